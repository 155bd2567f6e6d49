"""The documentation: the site builds with no warning, the README's links resolve, users never read the
internal paper names, and the extension pages' worked examples run through the real CLI."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"

#: the internal names of the five papers, of notes and of issues that are not in the repository
INTERNAL = re.compile(r"seeds? 00[0-4]|NOTES-00\d|\bissues? \d+\b", re.IGNORECASE)


def test_the_site_builds_without_a_warning(tmp_path):
    """mkdocs --strict: a broken link or anchor, or a page missing from the nav, fails the build."""
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "index.html").exists()


def _anchors(page: Path) -> set[str]:
    """The heading ids mkdocs gives a page (Python-Markdown's toc slugify)."""
    from markdown.extensions.toc import slugify

    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    return {slugify(re.sub(r"[`*]", "", m), "-") for m in re.findall(r"^#{1,6} +(.+?) *$", text, re.MULTILINE)}


def test_every_relative_link_of_the_readme_resolves():
    text = re.sub(r"```.*?```", "", (REPO / "README.md").read_text(), flags=re.DOTALL)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links, "the README links to the docs"
    for link in links:
        if re.match(r"[a-z]+:", link):
            continue                                   # http(s), mailto: not checked offline
        path, _, anchor = link.partition("#")
        target = (REPO / path) if path else REPO / "README.md"
        assert target.exists(), f"README.md links to {link}: {target} does not exist"
        if anchor and target.suffix == ".md":
            assert anchor in _anchors(target), f"README.md links to {link}: no heading with that id"


def test_every_docs_page_named_in_conf_and_code_exists():
    """conf/ comments and messages point at pages as docs/<page>.md[#anchor]: each one resolves."""
    files = [*(REPO / "conf").rglob("*.yaml"), *(REPO / "minimax_cli").rglob("*.py")]
    for f in files:
        for page, anchor in re.findall(r"docs/([\w-]+\.md)(?:#([\w-]+))?", f.read_text()):
            assert (DOCS / page).exists(), f"{f.relative_to(REPO)} names docs/{page}, which does not exist"
            if anchor:
                assert anchor in _anchors(DOCS / page), f"{f.relative_to(REPO)} names docs/{page}#{anchor}: no such heading"


def test_users_never_read_the_internal_paper_names():
    files = [REPO / "README.md", *DOCS.rglob("*"), *(REPO / "conf").rglob("*")]
    found = [f"{f.relative_to(REPO)}:{n}: {line.strip()}"
             for f in files if f.is_file() and f.suffix in {".md", ".yaml", ".py"}
             for n, line in enumerate(f.read_text().splitlines(), 1) if INTERNAL.search(line)]
    assert not found, "\n".join(found)


def _examples(page: str, tmp_path: Path) -> Path:
    """Writes the files of a page's worked example (each code block after `<!-- file: PATH -->`) under
    tmp_path, and returns the Hydra search path of its yaml."""
    blocks = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", (DOCS / page).read_text(), re.DOTALL)
    assert len(blocks) == 2, f"{page}: a module and a yaml"
    for name, code in blocks:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(code)
    return f"hydra.searchpath=[file://{tmp_path / 'conf'}]"


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _run_dir(runs_root: Path, game: str, algo: str) -> Path:
    (run_dir,) = (runs_root / game / algo).iterdir()
    return run_dir


def test_the_algorithm_page_example_follows_its_update_equation(cli, runs_root, tmp_path, monkeypatch):
    """docs/extending-algorithm.md: Lookahead-GDA trained by `minimax train` on f = ½x² + 2xy − ½y²,
    every logged step against z+ = ((1 − α)I + α(I − ηJ)^k) z, and its step map's spectrum."""
    searchpath = _examples("extending-algorithm.md", tmp_path / "example")
    monkeypatch.syspath_prepend(str(tmp_path / "example"))
    game = ["game=quadratic", "game.A=[[1.0]]", "game.B=[[2.0]]", "game.C=[[-1.0]]", "game.x0=[1.0]", "game.y0=[0.5]"]
    eta, k, alpha, steps = 0.05, 3, 0.7, 25
    algo = ["algo=lookahead", f"algo.lr_x={eta}", f"algo.lr_y={eta}", f"algo.k={k}", f"algo.alpha={alpha}"]
    code, _, err = cli("train", searchpath, *game, *algo, f"steps={steps}", "log_every=1", "plot=false",
                       "tensorboard=false")
    assert code == 0, err
    run_dir = _run_dir(runs_root, "quadratic", "lookahead")
    J = np.array([[1.0, 2.0], [-2.0, 1.0]])            # ξ(z) = Jz: (∇ₓf, −∇ᵧf)
    step = (1 - alpha) * np.eye(2) + alpha * np.linalg.matrix_power(np.eye(2) - eta * J, k)
    z, rows = np.array([1.0, 0.5]), _rows(run_dir)
    assert [r["step"] for r in rows] == list(range(steps + 1))
    for row in rows:
        gx, gy = J @ z
        assert row["grad_norm/x"] == pytest.approx(abs(gx), rel=1e-12, abs=1e-14)
        assert row["grad_norm/y"] == pytest.approx(abs(gy), rel=1e-12, abs=1e-14)
        assert row["dist_to_eq"] == pytest.approx(np.linalg.norm(z), rel=1e-12)
        if row["step"] > 0:
            assert row["cost/grads"] == k                  # k evaluations of both players' gradients
        z = step @ z
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["algo_params"]["k"] == k

    code, out, err = cli("analyze", searchpath, *game, *algo, "--json")
    assert code == 0, err
    got = np.sort_complex(np.array([complex(*p) for p in json.loads(out)["step_jacobian_eigs"]]))
    assert np.allclose(got, np.sort_complex(np.linalg.eigvals(step)), atol=1e-12)


def test_the_game_page_example_trains_and_analyzes(cli, runs_root, tmp_path, monkeypatch):
    """docs/extending-game.md: the shifted saddle's 16 starts converge to its Nash point (1.6, −1.2), and
    `minimax analyze` classifies the point with GDA's spectral radius |1 − η(2 ± i)|."""
    searchpath = _examples("extending-game.md", tmp_path / "example")
    monkeypatch.syspath_prepend(str(tmp_path / "example"))
    code, _, err = cli("train", searchpath, "game=shifted_saddle", "algo=gda", "game.starts=16",
                       "game.init_radius=2", "tensorboard=false")
    assert code == 0, err
    run_dir = _run_dir(runs_root, "shifted_saddle", "gda")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "converged" and summary["fraction_converged"] == 1.0
    ends = np.load(run_dir / "trajectories.npz")
    assert np.allclose(ends["x"], 1.6, atol=1e-5) and np.allclose(ends["y"], -1.2, atol=1e-5)

    code, out, err = cli("analyze", searchpath, "game=shifted_saddle", "algo=gda", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["point"]["x"] == pytest.approx([1.6]) and report["point"]["y"] == pytest.approx([-1.2])
    assert report["classification"]["class"] == "local_nash"
    assert report["spectral_radius"] == pytest.approx(abs(1 - 0.05 * complex(2, 1)), rel=1e-12)
