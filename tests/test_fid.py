"""FID and Inception score: closed forms, scipy, and pytorch-fid's own code as references.

No test downloads anything: ``no_network`` makes every download entry point raise, and the
Inception networks are built without pretrained weights."""


import numpy as np
import pytest
import scipy.linalg
import torch
import torchvision.utils
from PIL import Image
from torch import nn
from torchvision import transforms

from minimax_cli.errors import DataError
from minimax_cli.metrics import fid as F
from minimax_cli.metrics.inception_score import inception_score, inception_score_of


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    """An empty torch hub dir ($TORCH_HOME/hub, read by torch.hub.get_dir at each call) and a
    download primitive that fails loudly (torch.hub.load_state_dict_from_url, which pytorch-fid
    uses, calls it only when the file is not in the hub cache)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to download something")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    assert torch.hub.get_dir() == str(tmp_path / "torch_home" / "hub")


def _scipy_fid(mu1, s1, mu2, s2):
    """The formula with scipy's sqrtm of the product (pytorch-fid's way), computed here."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


# -- the Fréchet distance --------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")  # pytorch-fid's sqrtm call
def test_frechet_distance_known_answers_and_scipy():
    rng = np.random.default_rng(0)
    d = 6
    mu, s = rng.normal(size=d), _spd(rng, d)
    assert abs(F.frechet_distance(mu, s, mu, s)) < 1e-9  # identical Gaussians
    shift = rng.normal(size=d)
    assert F.frechet_distance(mu, s, mu + shift, s) == pytest.approx(shift @ shift, rel=1e-9)
    a, b = rng.uniform(0.5, 2, size=d), rng.uniform(0.5, 2, size=d)  # diagonal: Σ(√a − √b)² + ‖Δμ‖²
    expected = shift @ shift + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert F.frechet_distance(mu, np.diag(a), mu + shift, np.diag(b)) == pytest.approx(expected, rel=1e-9)
    s2, mu2 = _spd(rng, d), rng.normal(size=d)  # general covariances: scipy's sqrtm
    assert F.frechet_distance(mu, s, mu2, s2) == pytest.approx(_scipy_fid(mu, s, mu2, s2), rel=1e-9)
    from pytorch_fid.fid_score import calculate_frechet_distance

    assert F.frechet_distance(mu, s, mu2, s2) == pytest.approx(calculate_frechet_distance(mu, s, mu2, s2), rel=1e-9)


def test_frechet_distance_of_rank_deficient_sample_covariances():
    """Fewer samples than dimensions (every FID of < 2048 images): with Σ_i = A_iᵀA_i/(n_i − 1)
    for centred sample matrices A_i, tr (Σ1Σ2)^{1/2} is the nuclear norm of A1 A2ᵀ / sqrt((n1−1)(n2−1))."""
    rng = np.random.default_rng(1)
    d, n1, n2 = 20, 5, 7
    x1, x2 = rng.normal(size=(n1, d)), rng.normal(size=(n2, d)) + 0.3
    a1, a2 = x1 - x1.mean(0), x2 - x2.mean(0)
    s1, s2 = np.cov(x1, rowvar=False), np.cov(x2, rowvar=False)
    nuclear = np.linalg.svd(a1 @ a2.T / np.sqrt((n1 - 1) * (n2 - 1)), compute_uv=False).sum()
    diff = x1.mean(0) - x2.mean(0)
    expected = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * nuclear
    assert F.frechet_distance(x1.mean(0), s1, x2.mean(0), s2) == pytest.approx(expected, rel=1e-9)
    fid = F.FID(_LinearBackbone(d), (x1.mean(0), s1))
    assert fid.distance(x2.mean(0), s2) == pytest.approx(expected, rel=1e-9)


# -- inputs: exactly what pytorch-fid reads back from PNG files -----------------------------------------
def test_inputs_equal_the_png_round_trip(tmp_path):
    gen = torch.Generator().manual_seed(0)
    fake = torch.rand(2, 3, 9, 9, generator=gen, dtype=torch.float32) * 2.2 - 1.1  # a bit outside [−1, 1]
    gray = torch.rand(1, 1, 9, 9, generator=gen, dtype=torch.float32) * 2 - 1
    to_tensor = transforms.ToTensor()
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)  # pytorch-fid runs with float32 defaults
    try:
        for images in (fake, gray):
            ours = F.to_inception_input(images)
            for k, img in enumerate(images):
                path = tmp_path / f"img{k}.png"
                torchvision.utils.save_image(img / 2 + 0.5, path)  # seed 003: x/2 + 0.5, then PNG
                ref = to_tensor(Image.open(path).convert("RGB"))  # pytorch-fid's ImagePathDataset
                assert torch.equal(ours[k], ref)
    finally:
        torch.set_default_dtype(previous)
    u8 = torch.randint(0, 256, (1, 3, 5, 5), dtype=torch.uint8, generator=gen)
    assert torch.equal(F.to_inception_input(u8), u8.float() / 255)


# -- the path features → statistics → FID with an injected backbone ---------------------------------------
class _LinearBackbone(nn.Module):
    """Stands in for InceptionFeatures: features = W·flatten(x) + b (d-dim), logits = features[:, :k]."""

    def __init__(self, dim, k=4, pixels=3 * 8 * 8):
        super().__init__()
        gen = torch.Generator().manual_seed(5)
        self.w = nn.Parameter(torch.randn(dim, pixels, generator=gen, dtype=torch.float32), requires_grad=False)
        self.b = nn.Parameter(torch.randn(dim, generator=gen, dtype=torch.float32), requires_grad=False)
        self.k = k
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        f = x.reshape(len(x), -1) @ self.w.t() + self.b
        return f, f[:, :self.k] * 3


def test_streaming_statistics_equal_numpy_mean_and_cov():
    model = _LinearBackbone(16)
    gen = torch.Generator().manual_seed(2)
    images = torch.rand(11, 3, 8, 8, generator=gen) * 2 - 1
    mu, sigma = F.inception_outputs(model, [images[:4], images[4:5], images[5:]])
    feats = torch.cat([model(F.to_inception_input(b))[0] for b in (images[:4], images[4:5], images[5:])])
    feats = feats.double().numpy()  # float32 features, batched alike (matmul rounding depends on shape)
    np.testing.assert_allclose(mu, feats.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(feats, rowvar=False), rtol=1e-9, atol=1e-10)


def test_real_statistics_are_cached_in_pytorch_fid_format(tmp_path):
    model = _LinearBackbone(16)
    real = torch.randint(0, 256, (9, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    path = F.stats_path(tmp_path / "stats", "fake-train-8", 6)
    assert path.name == "fake-train-8-n6.npz"
    mu, sigma = F.real_statistics(path, lambda: real, model, n=6, batch_size=4, dim=None)
    idx = torch.randperm(9, generator=torch.Generator().manual_seed(0))[:6]  # seeded subset
    feats = torch.cat([model(real[idx[:4]].float() / 255)[0], model(real[idx[4:]].float() / 255)[0]])
    feats = feats.double().numpy()
    np.testing.assert_allclose(mu, feats.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(feats, rowvar=False), rtol=1e-9, atol=1e-10)
    with np.load(path) as f:
        assert sorted(f.files) == ["mu", "sigma"]
    from pytorch_fid.fid_score import compute_statistics_of_path  # pytorch-fid reads our file

    m2, s2 = compute_statistics_of_path(str(path), None, 50, 16, "cpu")
    assert np.array_equal(m2, mu) and np.array_equal(s2, sigma)

    def never():
        raise AssertionError("the cache was not used")

    calls = model.calls
    m3, s3 = F.real_statistics(path, never, never, n=6, dim=None)  # neither data nor network needed
    assert np.array_equal(m3, mu) and model.calls == calls
    with pytest.raises(DataError, match="shape"):
        F.real_statistics(path, never, never, n=6)  # 16-d statistics where 2048-d are expected
    path.write_bytes(b"not an npz")
    with pytest.raises(DataError, match="not a pytorch-fid statistics file"):
        F.real_statistics(path, never, never, n=6)


def test_fid_of_generated_batches_and_inception_score_in_one_pass():
    model = _LinearBackbone(16)
    gen = torch.Generator().manual_seed(4)
    real = torch.randint(0, 256, (20, 3, 8, 8), dtype=torch.uint8, generator=gen)
    stats = F.inception_outputs(model, [real])
    fid = F.FID(model, stats, splits=2)
    same = real.float() / 127.5 - 1  # the real images as generator outputs in [−1, 1]
    assert abs(fid(F.batches_of(lambda s, b: same[s:s + b], 20, batch_size=6))) < 1e-6 * stats[1].trace()
    noise = torch.rand(20, 3, 8, 8, generator=gen) * 2 - 1
    batches = list(F.batches_of(lambda s, b: noise[s:s + b], 20, batch_size=6))
    assert [len(b) for b in batches] == [6, 6, 6, 2]
    out = fid.evaluate(batches, inception_score=True)
    mu, sigma = F.inception_outputs(model, batches)
    assert out["fid"] == pytest.approx(F.frechet_distance(*stats, mu, sigma), rel=1e-9)
    assert out["fid"] == pytest.approx(fid(batches), rel=1e-12) and out["fid"] > 1
    logits = torch.cat([model(F.to_inception_input(b))[1] for b in batches])
    expected = inception_score(torch.softmax(logits.double(), 1), splits=2)
    assert (out["is"], out["is_std"]) == pytest.approx(expected, rel=1e-9)


# -- the Inception score -------------------------------------------------------------------------------------
def test_inception_score_known_answers():
    k = 7
    assert inception_score(torch.full((50, k), 1 / k), splits=10) == pytest.approx((1.0, 0.0))
    onehot = torch.eye(4).repeat(10, 1)  # 40 samples, every split of 4 holds the 4 classes once
    assert inception_score(onehot, splits=10) == pytest.approx((4.0, 0.0))
    # two samples, p1 = (1, 0), p2 = (½, ½): p(y) = (¾, ¼); KL1 = log(4/3), KL2 = ½log(2/3) + ½log 2
    by_hand = np.exp((np.log(4 / 3) + 0.5 * np.log(2 / 3) + 0.5 * np.log(2)) / 2)
    assert inception_score(torch.tensor([[1.0, 0.0], [0.5, 0.5]]), splits=1)[0] == pytest.approx(by_hand)
    scores = inception_score(torch.cat([torch.eye(4).repeat(5, 1), torch.full((20, 4), 0.25)]), splits=2)
    assert scores == pytest.approx((2.5, 1.5))  # splits of 4 and 1 → mean 2.5, population std 1.5


def test_inception_score_with_an_injected_classifier():
    images = torch.arange(30, dtype=torch.float32).reshape(30, 1)  # image i belongs to class i % 3

    def classifier(x):
        return torch.nn.functional.one_hot(x[:, 0].long() % 3, 3).float() * 200.0  # softmax ≈ one-hot

    mean, std = inception_score_of([images[:13], images[13:]], classifier, splits=10)
    assert mean == pytest.approx(3.0, rel=1e-6) and std == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="at least 10 samples"):
        inception_score(torch.full((5, 3), 1 / 3), splits=10)


# -- the real InceptionV3 (pytorch-fid's), without pretrained weights ------------------------------------------
def test_missing_weights_is_one_line_naming_the_file_and_the_hub_dir(tmp_path):
    with pytest.raises(DataError) as err:
        F.load_inception("auto")
    msg = str(err.value)
    assert "\n" not in msg and "pt_inception-2015-12-05-6726825d.pth" in msg
    assert str(tmp_path / "torch_home" / "hub" / "checkpoints") in msg and "metrics.fid.weights" in msg
    with pytest.raises(DataError, match="not found at /nonexistent/w.pth"):
        F.load_inception("/nonexistent/w.pth")
    bad = tmp_path / "corrupt.pth"
    bad.write_bytes(b"garbage")
    with pytest.raises(DataError, match="cannot read the FID Inception weights"):
        F.load_inception(bad)


@pytest.fixture(scope="module")
def random_inception():
    return F.InceptionFeatures(None, seed=0)


@pytest.mark.slow
def test_full_path_with_an_untrained_inception(random_inception):
    """features → statistics → FID through pytorch-fid's InceptionV3 (random weights): 299×299
    resize, 2048-d pool features, 1008 logits; FID(x, x) = 0 and, for other images, the closed form
    of rank-deficient covariances (nuclear norm, see above) computed from the features."""
    gen = torch.Generator().manual_seed(7)
    real = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8, generator=gen)
    fake = torch.rand(3, 1, 16, 16, generator=gen) * 2 - 1  # 1-channel generator output (MNIST-like)
    feats = {}
    for name, images in (("real", real), ("fake", fake)):
        pool, logits = random_inception(F.to_inception_input(images))
        assert pool.shape == (3, 2048) and logits.shape == (3, 1008) and pool.std() > 1e-3
        feats[name] = pool.double().numpy()
    stats = F.inception_outputs(random_inception, [real[:2], real[2:]])
    np.testing.assert_allclose(stats[0], feats["real"].mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats[1], np.cov(feats["real"], rowvar=False), rtol=1e-4, atol=1e-6)
    fid = F.FID(random_inception, stats)
    assert abs(fid.distance(*stats)) < 1e-6 * np.trace(stats[1])
    value = fid(iter([fake]))
    f1, f2 = feats["real"], feats["fake"]
    a1, a2 = f1 - f1.mean(0), f2 - f2.mean(0)
    diff = f1.mean(0) - f2.mean(0)
    expected = diff @ diff + (a1 ** 2).sum() / 2 + (a2 ** 2).sum() / 2 \
        - 2 * np.linalg.svd(a1 @ a2.T / 2, compute_uv=False).sum()
    assert value == pytest.approx(expected, rel=1e-4) and value > 0.1 * np.trace(stats[1])


@pytest.mark.slow
def test_same_network_and_numbers_as_pytorch_fid_from_png_files(random_inception, tmp_path):
    """Weights placed in the torch hub cache are what both pytorch-fid's InceptionV3([3]) and
    load_inception("auto") read; pytorch-fid's PNG-file statistics equal ours from tensors."""
    from pytorch_fid.fid_score import calculate_activation_statistics
    from pytorch_fid.inception import InceptionV3

    body = F.fid_inception_body()
    F._random_init(body, seed=0)  # the weights of the random_inception fixture
    F.hub_weights_path().parent.mkdir(parents=True)
    torch.save(body.state_dict(), F.hub_weights_path())
    ours = F.load_inception("auto")
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), random_inception.state_dict().values()))

    gen = torch.Generator().manual_seed(8)
    fake = torch.rand(3, 3, 16, 16, generator=gen) * 2 - 1
    files = []
    for k, img in enumerate(fake):
        files.append(str(tmp_path / f"sample{k}.png"))
        torchvision.utils.save_image(img / 2 + 0.5, files[-1])
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)  # pytorch-fid as its command line runs it
    try:
        theirs = InceptionV3([3]).eval()  # finds the file in the hub cache; a download would raise
        mu_ref, sigma_ref = calculate_activation_statistics(files, theirs, batch_size=3, dims=2048, num_workers=0)
    finally:
        torch.set_default_dtype(previous)
    mu, sigma = F.inception_outputs(random_inception, [fake])
    np.testing.assert_allclose(mu, mu_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sigma, sigma_ref, rtol=1e-4, atol=1e-6 * np.abs(sigma_ref).max())
