"""A researcher's own problem without writing minimax code (docs/bring-your-own.md): a samples file
for game=mog, a folder of images for game=images, their own nn.Modules through _target_.
Data is generated here; the networks are in tests/own_nets.py."""

import json

import numpy as np
import pytest
import torch

from minimax_cli.games.data.mog import make_dataset
from minimax_cli.games.gan import GAN
from minimax_cli.oracle import Oracle
from tests.conftest import load_metrics, load_summary, rows_without_time, run_dirs

QUIET = ["progress=false", "tensorboard=false", "hardware.threads=1"]
SMALL_MOG = ["game.batch.size=100", "game.metrics.w1_samples=64", "game.metrics.kl_samples=128",
             "game.metrics.mode_samples=128", "game.generator.width=8", "game.discriminator.width=8"]
CENTRES = np.array([[-2.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 2.0, 1.0]])


def mixture(n=300, seed=0, dim=3):
    rng = np.random.default_rng(seed)
    return CENTRES[rng.integers(0, 3, n), :dim] + 0.1 * rng.standard_normal((n, dim))


def one_line_error(cli, *args) -> str:
    code, _, err = cli("train", *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    return lines[0]


# -- samples files -----------------------------------------------------------------------------------------
def test_npy_csv_and_pt_files_give_the_same_rows(tmp_path):
    x = mixture(50, dim=2)
    np.save(tmp_path / "s.npy", x)
    np.savetxt(tmp_path / "s.csv", x, delimiter=",", header="a,b", comments="", fmt="%.17g")
    np.savetxt(tmp_path / "s.txt", x, fmt="%.17g")
    torch.save(torch.tensor(x, dtype=torch.float32), tmp_path / "s.pt")
    for name in ("s.npy", "s.csv", "s.txt"):
        assert torch.equal(make_dataset(str(tmp_path / name)).points, torch.as_tensor(x)), name
    torch.testing.assert_close(make_dataset(str(tmp_path / "s.pt")).points, torch.as_tensor(x), rtol=1e-6, atol=1e-6)
    np.save(tmp_path / "one_d.npy", x[:, 0])
    assert make_dataset(str(tmp_path / "one_d.npy")).points.shape == (50, 1)


def test_centres_give_modes_sigma_and_weights_estimated_from_the_rows(tmp_path):
    x = mixture(3000)
    np.save(tmp_path / "s.npy", x)
    ds = make_dataset(str(tmp_path / "s.npy"), centers=CENTRES.tolist())
    assert ds.dim == 3 and ds.n_modes == 3
    assert ds.sigma == pytest.approx(0.1, rel=0.05)          # RMS per-coordinate distance to the nearest centre
    assert ds.mode_weights().sum() == pytest.approx(1.0) and ds.mode_weights().min() > 0.3
    plain = make_dataset(str(tmp_path / "s.npy"))
    assert plain.centres is None and plain.sigma is None and plain.kde_bandwidth > 0   # Scott's rule
    draws = plain.sample(10, torch.Generator().manual_seed(0))
    assert all(any(torch.equal(d, r) for r in plain.points) for d in draws)       # rows of the file


@pytest.mark.parametrize("make, expected", [
    (lambda p: None, "no such file"),
    (lambda p: np.save(p, np.zeros((0, 3))), "is empty (shape (0, 3))"),
    (lambda p: np.save(p, np.zeros((4, 3, 2))), "has shape (4, 3, 2); expected (n samples, d) or (n,)"),
    (lambda p: np.save(p, np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, np.inf]])),
     "holds 2 NaN or infinite value(s) (first in row 1)"),
    (lambda p: p.write_bytes(b"not numpy"), "is not a .npy file (no NumPy header"),
    (lambda p: np.save(p, np.array(["a", "b"])), "holds <U1 values; the samples must be real numbers"),
    (lambda p: np.save(p, np.zeros((1, 2))), "holds 1 sample; a data distribution needs at least 2 rows"),
])
def test_a_bad_samples_file_is_one_line_and_no_run(cli, runs_root, tmp_path, make, expected):
    path = tmp_path / "samples.npy"
    make(path)
    line = one_line_error(cli, "game=mog", f"game.data={path}")
    assert line.startswith("minimax: error: game.data: ") and str(path) in line and expected in line, line
    assert not runs_root.exists()


@pytest.mark.parametrize("suffix, content, expected", [
    (".csv", "1,2\n3,x\n", "line 2 is not a row of numbers: '3,x'"),
    (".csv", "1,2\n3\n", "has rows of different lengths"),
    (".pt", {"samples": [1, 2]}, "holds a dict, not one tensor of shape (n, d)"),
    (".pt", b"garbage", "cannot read"),
])
def test_bad_csv_and_pt_files_are_one_line(cli, runs_root, tmp_path, suffix, content, expected):
    path = tmp_path / f"samples{suffix}"
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    assert expected in one_line_error(cli, "game=mog", f"game.data={path}")


def test_samples_file_config_errors_are_one_line(cli, tmp_path):
    np.save(tmp_path / "s.npy", mixture(100))
    data = f"game.data={tmp_path / 's.npy'}"
    assert one_line_error(cli, "game=mog", data) == (
        f"minimax: error: game.batch.size (500) exceeds the 100 samples of {tmp_path / 's.npy'}: fixed mode draws "
        "batches without replacement; set game.batch.size <= 100 or game.batch.mode=fresh")
    assert "game.centers have dimension 2, the samples 3" in one_line_error(
        cli, "game=mog", data, "game.batch.size=50", "game.centers=[[0,0],[1,1]]")
    assert "game.centers applies to a samples file" in one_line_error(cli, "game=mog", "game.centers=[[0]]")
    assert "or a samples file (.npy, .csv, .txt, .pt" in one_line_error(cli, "game=mog", "game.data=ring9")


@pytest.mark.slow
def test_mog_on_own_samples_in_3d_with_centres_2d_without_and_1d(cli, runs_root, tmp_path):
    """README example: W1 in any dimension, KL on a grid up to 2-D, the mode metrics only with centres."""
    np.save(tmp_path / "s3.npy", mixture(300))
    np.save(tmp_path / "c3.npy", CENTRES)
    np.savetxt(tmp_path / "s2.csv", mixture(300, dim=2), delimiter=",")
    torch.save(torch.as_tensor(mixture(300, dim=1)[:, 0]), tmp_path / "s1.pt")
    cases = [([f"game.data={tmp_path / 's3.npy'}", f"game.centers={tmp_path / 'c3.npy'}"], {"w1", "modes_covered"},
              {"kl"}),
             ([f"game.data={tmp_path / 's2.csv'}"], {"w1", "kl"}, {"modes_covered", "high_quality_frac"}),
             ([f"game.data={tmp_path / 's1.pt'}", "game.centers=[[-2],[2],[0]]", "game.batch.mode=fresh"],
              {"w1", "kl", "modes_covered", "high_quality_frac"}, set())]
    for i, (data, present, absent) in enumerate(cases):
        code, _, err = cli("train", "game=mog", *data, *SMALL_MOG, "algo=gda", "steps=10", "log_every=5", *QUIET,
                           f"hydra.run.dir={runs_root / str(i)}")
        assert code == 0, err
        summary, rows = load_summary(runs_root / str(i)), load_metrics(runs_root / str(i))
        assert summary["status"] == "finished" and [r["step"] for r in rows] == [0, 5, 10]
        assert present <= set(summary["metrics"]) and not absent & set(summary["metrics"]), summary["metrics"]
        evaluated = [r for r in rows if "w1" in r]   # every metrics_every steps, the first and the last row
        assert [r["step"] for r in evaluated][::len(evaluated) - 1] == [0, 10]
        assert all(np.isfinite(r["w1"]) and r["w1"] > 0 for r in evaluated)
    assert (runs_root / "1" / "samples.png").is_file() and not (runs_root / "0" / "samples.png").exists()


# -- own networks --------------------------------------------------------------------------------------------
OWN = ["game.generator._target_=tests.own_nets.Gen", "game.discriminator._target_=tests.own_nets.Disc"]


def test_own_modules_are_evaluated_through_the_flat_parameters_with_every_product():
    """Built from the run seed (same seed, same networks; another seed, others), the constructor gets
    minimax's latent / data_dim and the node's own keys, and the Oracle's products match autograd."""
    spec = dict(generator={"_target_": "tests.own_nets.Gen", "hidden": 6}, discriminator={"_target_": "tests.own_nets.Disc"},
                batch={"dataset_size": 64, "size": 64})

    def game(seed):
        g = GAN("mog", **spec)
        g.setup("cpu", torch.float64, seed)
        return g

    a, b, c = game(0), game(0), game(1)
    assert torch.equal(a._x0, b._x0) and torch.equal(a._y0, b._y0) and not torch.equal(a._x0, c._x0)
    assert a.G.module.net[0].in_features == 16 and a.G.module.net[0].out_features == 6   # latent 16, hidden 6
    assert a.dim_x == sum(p.numel() for p in a.G.module.parameters())
    x, y = a.initial_points()
    x, y = x[0], y[0]
    oracle = Oracle(a, a.eval_batch())
    v = torch.randn(y.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    yy = y.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(a.loss_y(x, yy, a.eval_batch()), yy, create_graph=True)
    (hv,) = torch.autograd.grad(g @ v, yy)
    torch.testing.assert_close(oracle.grad_y(x, y), g.detach(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(oracle.hvp_yy(x, y, v), hv, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("target, role, expected", [
    ("RunningStatsDisc", "discriminator", "layer 'net.1' (BatchNorm1d) updates running statistics in place"),
    ("DropoutDisc", "discriminator", "layer 'net.2' (Dropout) makes the forward pass random"),
    ("IntegerParameter", "discriminator", "parameter 'scale' is torch.complex64"),
    ("NoParameters", "discriminator", "has no trainable parameters"),
    ("CountingDisc", "discriminator", "forward pass changes its buffer(s) calls in place"),
    ("NumpyDisc", "discriminator", "torch.func cannot take a Hessian-vector product through tests.own_nets.NumpyDisc"),
    ("WrongShapeGen", "generator", "maps input (4, 16) to (4, 5); expected (4, 1)"),
    ("BrokenInit", "discriminator", "tests.own_nets.BrokenInit(data_dim=1) failed: ValueError: hidden must be even"),
    ("Missing", "discriminator", "module 'tests.own_nets' has no 'Missing'"),
])
def test_a_module_torch_func_cannot_use_is_one_line_before_any_run(cli, runs_root, target, role, expected):
    line = one_line_error(cli, "game=mog", f"game.{role}._target_=tests.own_nets.{target}")
    assert line.startswith(f"minimax: error: game.{role}") and expected in line, line
    assert not runs_root.exists()


def test_own_module_keys_are_checked_against_its_constructor(cli):
    assert "unknown key game.generator.depth2 for tests.own_nets.Gen (its arguments: latent, data_dim, hidden)" in \
        one_line_error(cli, "game=mog", *OWN, "+game.generator.depth2=3")
    assert "cannot import 'no_such_pkg'" in one_line_error(cli, "game=mog", "game.generator._target_=no_such_pkg.Gen")


@pytest.mark.slow
def test_own_networks_train_with_hessianfr_and_resume_exactly(cli, runs_root, tmp_path):
    """README example: HVPs (CG), checkpoint, resume == uninterrupted run, on own modules."""
    args = ["game=mog", *OWN, "+game.generator.hidden=8", "game.batch.dataset_size=64", "game.batch.size=64",
            "game.metrics.w1_samples=64", "game.metrics.kl_samples=128", "game.metrics.mode_samples=128",
            "algo=hessianfr", "algo.solver.kind=cg", "algo.solver.iters=3", "log_every=2", "metrics_every=2", "checkpoint_every=2", *QUIET]
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("train", *args, "steps=4", f"hydra.run.dir={a}")[0] == 0
    # a run directory never names code on its own: the resume passes the modules again (docs/faults.md)
    code, _, err = cli("train", f"resume={a}", "steps=6", *OWN)
    assert code == 0, err
    assert cli("train", *args, "steps=6", f"hydra.run.dir={b}")[0] == 0

    assert rows_without_time(a) == rows_without_time(b) and [r["step"] for r in rows_without_time(a)] == [0, 2, 4, 6]
    assert load_summary(a)["cost"]["hvps_per_step"] > 0


# -- a folder of images --------------------------------------------------------------------------------------
TINY_IMAGES = ["game.batch.size=4", "game.generator.latent_dim=8", "game.generator.width=4",
               "game.discriminator.width=4", "game.metrics.sample_every=0", "game.metrics.grid=4",
               "game.metrics.fid.weights=random", "game.metrics.fid.samples=8", "game.metrics.fid.batch_size=4",
               "game.metrics.fid_every=2", "steps=2", "log_every=1", *QUIET]


def image_folder(root, n=10, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    (root / "nested").mkdir(parents=True)
    for i in range(n):
        array = (rng.random((30 + i, 40, 3)) * 255).astype("uint8")    # sizes differ: resized + cropped
        Image.fromarray(array).save(root / ("nested" if i % 2 else "") / f"im{i}.{'png' if i % 3 else 'jpg'}")
    (root / "README.txt").write_text("not an image")
    return root


@pytest.mark.slow
def test_image_gan_on_a_folder_with_fid_against_it_cached_per_content(cli, runs_root, tmp_path, monkeypatch):
    """README example: game=images game.root=DIR trains with FID against the folder; its statistics
    and decoded images are cached under a key of the folder's content, which a changed image renews."""
    folder = image_folder(tmp_path / "my_images")
    data = tmp_path / "data"
    monkeypatch.setenv("MINIMAX_DATA", str(data))
    code, _, err = cli("train", "game=images", f"game.root={folder}", *TINY_IMAGES, f"hydra.run.dir={runs_root / 'a'}")
    assert code == 0, err
    summary = load_summary(runs_root / "a")
    assert summary["status"] == "finished" and summary["metrics"]["fid"] > 0
    (stats,) = (data / "fid_stats").iterdir()
    assert stats.name.startswith("folder-my_images-") and stats.name.endswith("-c3-32-random-inception-n10.npz")
    assert len(list((data / "cache").iterdir())) == 1
    from PIL import Image

    Image.fromarray(np.zeros((32, 32, 3), dtype="uint8")).save(folder / "im0.jpg")   # one image rewritten
    assert cli("train", "game=images", f"game.root={folder}", *TINY_IMAGES, f"hydra.run.dir={runs_root / 'b'}")[0] == 0
    assert len(list((data / "fid_stats").iterdir())) == 2 and len(list((data / "cache").iterdir())) == 2


def test_folder_errors_are_one_line(cli, runs_root, tmp_path):
    assert one_line_error(cli, "game=images") == \
        "minimax: error: game.root must be the folder of your images (game=images game.root=DIR)"
    assert "game.root: no folder" in one_line_error(cli, "game=images", f"game.root={tmp_path / 'nope'}")
    (tmp_path / "empty").mkdir()
    assert "holds 0 image file(s)" in one_line_error(cli, "game=images", f"game.root={tmp_path / 'empty'}")
    assert "game.root applies to dataset=folder" in one_line_error(cli, "game=cifar10", "+game.root=x")
    assert not runs_root.exists()


def test_a_corrupt_image_is_one_line(tmp_path):
    from minimax_cli.errors import DataError
    from minimax_cli.games.data.folder import FolderImages

    folder = image_folder(tmp_path / "imgs", n=3)
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"game.root: cannot read image .*broken.png .*remove or replace it"):
        FolderImages(str(folder), 8, 3, str(tmp_path / "data")).load()


@pytest.mark.slow
def test_own_image_networks_train_on_a_folder(cli, runs_root, tmp_path, monkeypatch):
    folder = image_folder(tmp_path / "imgs", n=6)
    monkeypatch.setenv("MINIMAX_DATA", str(tmp_path / "data"))
    code, _, err = cli("train", "game=images", f"game.root={folder}", "game.channels=1", "game.image_size=16",
                       "game.generator._target_=tests.own_nets.ImageGen", "game.generator.latent_dim=5",
                       "game.discriminator._target_=tests.own_nets.ImageDisc", "+game.discriminator.width=3",
                       "game.batch.size=3", "game.metrics.fid_every=0", "game.metrics.sample_every=0",
                       "game.metrics.grid=4", "algo=fr", "steps=2", "log_every=1", *QUIET,
                       f"hydra.run.dir={runs_root / 'a'}")
    assert code == 0, err
    summary = load_summary(runs_root / "a")
    assert summary["status"] == "finished" and summary["cost"]["hvps_per_step"] > 0
    assert json.loads((runs_root / "a" / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 2
    (run,) = run_dirs(runs_root)
    assert (run / "samples.png").is_file()
