"""table.md and rows.json of a reproduction: its tables, each claim ✓/✗ (or – when its setting was
not run), notes; the exit status says whether a checked claim failed."""

from __future__ import annotations

import json
from pathlib import Path

from minimax_cli.reproduce.engine import Claim


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A markdown table of ``rows`` (each cell as str()) under ``header``."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(str, r)) + " |" for r in rows])


def write_outputs(out: Path, title: str, setting: str, tables: list[tuple[str, str]], claims: list[Claim],
                  quick: bool, notes: str, extra: dict, audit: tuple[str, ...] = ()) -> int:
    """table.md (tables, claims ✓/✗, notes) and rows.json; returns the exit status. ``audit``: the
    experiments whose audit table (docs/setups.md) states every value the runs use."""
    lines = [f"# {title}", "", setting, "", f"Runs: `{out / 'runs'}` (one `minimax train -m` launch of every variant, "
             "`algo.name` = the variant).", ""]
    if audit:
        cited = ", ".join(f"`docs/setups.md#{a}`" for a in audit)
        lines += [f"Setup audit: {cited} (each value: paper section, reference-code file:line, ours, why); "
                  "each run's `.hydra/resolved.yaml` ends with where every algorithm value came from.", ""]
    for heading, text in tables:
        lines += [f"## {heading}", "", text.rstrip(), ""]
    lines += ["## Claims", ""]
    failed = False
    for c in claims:
        checked = c.scope == "both" or not quick
        if not checked:
            mark = "–"
            suffix = " (full setting only; not checked here)"
        elif c.ok is None:
            mark, suffix = "✗", " (could not be evaluated)"
            failed = True
        else:
            mark, suffix = ("✓" if c.ok else "✗"), ""
            failed |= not c.ok
        lines.append(f"* {mark} {c.text}{suffix}")
    lines += ["", "## Notes", "", notes.rstrip(), ""]
    text = "\n".join(lines)
    (out / "table.md").write_text(text)
    payload = {"claims": [{"text": c.text, "ok": c.ok, "scope": c.scope} for c in claims], "quick": quick, **extra}
    (out / "rows.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    print(text)
    print(f"\nwritten: {out / 'table.md'}")
    return 1 if failed else 0
