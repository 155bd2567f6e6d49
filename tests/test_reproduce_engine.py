"""`minimax reproduce` itself: --list, bad input, where outputs go, one launch per reproduction,
resuming an interrupted reproduction, --reanalyze, and the worked example of
docs/extending-reproduction.md."""

import json
import re
import types

import pytest
import yaml

from minimax_cli.reproduce import engine, registry
from tests.reproduce_command import reproduce
from tests.conftest import REPO


def test_list_names_every_reproduction_with_its_paper_and_cost(capsys):
    assert reproduce(["--list"]) == 0
    out = capsys.readouterr().out
    for name in registry.MODULES:
        assert re.search(rf"^{re.escape(name)} ", out, re.M), name
    for paper in ("Wang et al. 2020", "Gao et al. 2022", "Askari Hemmat et al. 2023", "Fiez & Ratliff 2021",
                  "Liang & Stokes 2019"):
        assert paper in out
    assert out.count("cost: ") == len(registry.MODULES) and "seed 00" not in out


@pytest.mark.parametrize("argv, words", [(["nothing"], "unknown reproduction 'nothing'"),
                                         (["toy", "--only", "g9"], "--only: unknown name(s) g9"),
                                         (["toy", "--bogus"], "unrecognized arguments: --bogus"),
                                         (["dirac", "--estimate"], "dirac has no --estimate"),
                                         ([], "name a reproduction")])
def test_bad_input_is_one_line_and_exit_2(argv, words, capsys, runs_root):
    assert reproduce(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err
    assert not runs_root.exists()


def test_only_selects_by_label_or_by_group():
    variants = registry.get("toy").variants(False)
    assert {v.label for v in engine.select(variants, ["g1", "fr", "gda"])} == {"g1-fr", "g1-gda"}
    assert {v.label for v in engine.select(variants, ["gdn"])} == {"g1-gdn", "g2-gdn", "g3-gdn"}
    assert [v.label for v in engine.select(variants, ["g2-eg"])] == ["g2-eg"]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """`minimax reproduce toy` for three algorithms on g1, from an empty working directory, with the
    runs root in a temporary folder; the launches are counted."""
    root = tmp_path_factory.mktemp("root")
    cwd = tmp_path_factory.mktemp("cwd")
    checkout = sorted(p.name for p in REPO.iterdir())
    checkout_runs = sorted(map(str, (REPO / "runs").rglob("*"))) if (REPO / "runs").is_dir() else []
    launches = []
    from minimax_cli import launch

    real = launch.train

    def counting(overrides, multirun, hydra_flags):
        launches.append(["train", *(["-m"] if multirun else []), *overrides])
        return real(overrides, multirun, hydra_flags)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MINIMAX_RUNS", str(root))
        mp.chdir(cwd)
        mp.setattr(launch, "train", counting)
        code = reproduce(["toy", "--only", "g1,gda,fr,gdn", "steps=200", "checkpoint_every=100"])
    return {"root": root, "cwd": cwd, "code": code, "launches": launches, "checkout": checkout,
            "checkout_runs": checkout_runs, "counting": counting}


@pytest.mark.slow
def test_outputs_go_under_the_runs_root_only(toy_run):
    assert toy_run["code"] == 0
    (out,) = (toy_run["root"] / "reproduce" / "toy").iterdir()      # <runs root>/reproduce/toy/<time>/
    assert {p.name for p in out.iterdir()} == {"reproduction.json", "launch", "runs", "table.md", "table.csv", "g1.png"}
    assert {p.name for p in (out / "runs").iterdir()} == {"g1_gda", "g1_fr", "g1_gdn"}
    assert list(toy_run["cwd"].iterdir()) == []
    assert sorted(p.name for p in REPO.iterdir()) == toy_run["checkout"]
    assert (sorted(map(str, (REPO / "runs").rglob("*"))) if (REPO / "runs").is_dir() else []) == toy_run["checkout_runs"]


@pytest.mark.slow
def test_every_variant_goes_out_in_one_launch(toy_run):
    (argv,) = toy_run["launches"]                                   # one `minimax train -m` for the reproduction
    assert argv[:3] == ["train", "-m", "hydra/sweeper=jobs"]
    (out,) = (toy_run["root"] / "reproduce" / "toy").iterdir()
    assert [p.name for p in (out / "launch").iterdir()] == ["0"]
    jobs = yaml.safe_load((out / "launch" / "0" / "jobs.yaml").read_text())
    assert sorted(next(o for o in job if o.startswith("algo=")) for job in jobs) == ["algo=fr", "algo=gda", "algo=gdn"]
    assert all("steps=200" in job and "game=g1" in job for job in jobs)
    assert (out / "launch" / "0" / "multirun.yaml").is_file()


@pytest.mark.slow
def test_an_interrupted_reproduction_continues_with_its_out(toy_run, monkeypatch):
    (out,) = (toy_run["root"] / "reproduce" / "toy").iterdir()
    kept = (out / "runs" / "g1_gdn" / "summary.json").read_text()
    (out / "runs" / "g1_fr" / "summary.json").unlink()             # killed after a checkpoint: resumed
    for p in sorted((out / "runs" / "g1_gda").rglob("*"), reverse=True):   # killed before one: started again
        if p.is_file() and p.name != "minimax.log":
            p.unlink()
    monkeypatch.setenv("MINIMAX_RUNS", str(toy_run["root"]))
    code = reproduce(["toy", "--out", str(out), "--only", "g1,gda,fr,gdn", "steps=200", "checkpoint_every=100"])
    assert code == 0
    assert sorted(p.name for p in (out / "launch").iterdir()) == ["0", "1"]
    jobs = yaml.safe_load((out / "launch" / "1" / "jobs.yaml").read_text())
    by_algo = {next(o for o in job if o.startswith("algo=")): job for job in jobs}
    assert set(by_algo) == {"algo=gda", "algo=fr"} and "resume=true" in by_algo["algo=fr"]
    assert "resume=true" not in by_algo["algo=gda"]
    assert (out / "runs" / "g1_gdn" / "summary.json").read_text() == kept
    assert json.loads((out / "runs" / "g1_fr" / "summary.json").read_text())["status"] == "converged"
    assert "✓ g1: FR, HessianFR and GDN converge" in (out / "table.md").read_text()


@pytest.mark.slow
def test_reanalyze_rebuilds_the_table_without_training(toy_run, monkeypatch):
    (out,) = (toy_run["root"] / "reproduce" / "toy").iterdir()
    launched = sorted(p.name for p in (out / "launch").iterdir())
    (out / "table.md").unlink()
    assert reproduce(["toy", "--reanalyze", str(out)]) == 0
    assert "| algorithm | g1 |" in (out / "table.md").read_text()
    assert sorted(p.name for p in (out / "launch").iterdir()) == launched


def _example():
    """The worked example of docs/extending-reproduction.md: the page's python block, run as a module."""
    page = (REPO / "docs" / "extending-reproduction.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    (code,) = [b for b in blocks if "REPRODUCTION = Reproduction(" in b]
    module = types.ModuleType("tiny_reproduction")
    exec(compile(code, "docs/extending-reproduction.md", "exec"), module.__dict__)
    return module


@pytest.mark.slow
def test_the_worked_example_of_the_docs_runs_and_its_claim_holds(runs_root):
    example = _example()
    assert engine.run(example.REPRODUCTION, quick=True) == 0
    (out,) = (runs_root / "reproduce" / "tiny-quick").iterdir()
    data = json.loads((out / "rows.json").read_text())
    assert data["status"]["fr"] == "converged" and data["status"]["gda"] != "converged"
    assert [c["ok"] for c in data["claims"]] == [True]
    assert "* ✓ g1: FR converges" in (out / "table.md").read_text()
