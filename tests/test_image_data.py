"""Image datasets through torchvision's real loaders on tiny fakes in the real on-disk formats."""

import io

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from fake_datasets import trust_celeba, trust_cifar10, write_celeba, write_cifar10, write_mnist
from minimax_cli.errors import ConfigError, DataError
from minimax_cli.games.data.images import ImageBatches, ImageSource, to_unit_range
from minimax_cli.games.data.sampler import EpochSampler


# -- MNIST ---------------------------------------------------------------------------------------------
def test_mnist_loads_the_idx_files_through_torchvision(tmp_path):
    fake = write_mnist(tmp_path, n_train=30, n_test=10)
    train = ImageSource("mnist", data_root=str(tmp_path)).load()
    assert train.dtype == torch.uint8 and train.shape == (30, 1, 28, 28)
    assert np.array_equal(train[:, 0].numpy(), fake["train_images"])
    test = ImageSource("mnist", data_root=str(tmp_path), split="test").load()
    assert np.array_equal(test[:, 0].numpy(), fake["test_images"])


def test_mnist_class_subset_takes_the_first_per_class_images_in_file_order(tmp_path):
    fake = write_mnist(tmp_path, n_train=30)  # label of image i is i % 10
    src = ImageSource("mnist", data_root=str(tmp_path), classes=[0, 1], per_class=2)
    images = src.load()
    assert np.array_equal(images[:, 0].numpy(), fake["train_images"][[0, 1, 10, 11]])
    all01 = ImageSource("mnist", data_root=str(tmp_path), classes=[0, 1]).load()
    assert np.array_equal(all01[:, 0].numpy(), fake["train_images"][[0, 1, 10, 11, 20, 21]])
    assert src.key == "mnist-train-28-c01-pc2"
    with pytest.raises(DataError, match="only 3 images of class 0"):
        ImageSource("mnist", data_root=str(tmp_path), classes=[0, 1], per_class=4).load()


def test_mnist_at_32_is_zero_padded(tmp_path):
    fake = write_mnist(tmp_path, n_train=10)
    images = ImageSource("mnist", data_root=str(tmp_path), image_size=32).load()
    assert images.shape == (10, 1, 32, 32)
    assert np.array_equal(images[:, 0, 2:30, 2:30].numpy(), fake["train_images"])
    border = images.clone()
    border[:, :, 2:30, 2:30] = 0
    assert border.sum() == 0  # black border = −1 after normalization


def test_missing_data_is_one_line_naming_the_exact_paths(tmp_path):
    for name, expected in (("mnist", "MNIST/raw/train-images-idx3-ubyte"),
                           ("cifar10", "cifar-10-batches-py/data_batch_1"),
                           ("celeba", "celeba/list_eval_partition.txt")):
        with pytest.raises(DataError) as err:
            ImageSource(name, data_root=str(tmp_path / "nowhere")).load()
        msg = str(err.value)
        assert "\n" not in msg
        assert str(tmp_path / "nowhere" / expected) in msg
        assert "game.download=true" in msg


def test_partial_mnist_names_the_missing_file(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"missing: t10k-labels-idx1-ubyte\)"):
        ImageSource("mnist", data_root=str(tmp_path)).load()


# -- CIFAR-10 ------------------------------------------------------------------------------------------
def test_cifar10_loads_the_pickled_batches_through_torchvision(tmp_path, monkeypatch):
    fake = write_cifar10(tmp_path, per_batch=3, n_test=4)
    trust_cifar10(monkeypatch, tmp_path)
    train = ImageSource("cifar10", data_root=str(tmp_path)).load()
    assert train.shape == (15, 3, 32, 32)
    assert np.array_equal(train.permute(0, 2, 3, 1).numpy(), fake["train_images"])
    test = ImageSource("cifar10", data_root=str(tmp_path), split="test").load()
    assert np.array_equal(test.permute(0, 2, 3, 1).numpy(), fake["test_images"])
    subset = ImageSource("cifar10", data_root=str(tmp_path), classes=[3]).load()
    assert np.array_equal(subset.permute(0, 2, 3, 1).numpy(), fake["train_images"][fake["train_labels"] == 3])


def test_cifar10_with_wrong_checksums_is_a_data_error(tmp_path):
    write_cifar10(tmp_path)  # no trust_cifar10: torchvision's real MD5s do not match the fakes
    with pytest.raises(DataError, match="present but torchvision rejected them"):
        ImageSource("cifar10", data_root=str(tmp_path)).load()


# -- CelebA --------------------------------------------------------------------------------------------
def _reference(files, steps):
    t = transforms.Compose(steps + [transforms.PILToTensor()])
    return torch.stack([t(Image.open(f).convert("RGB")) for f in files])


def test_celeba_split_resize_and_center_crop_match_torchvision_transforms(tmp_path, monkeypatch):
    fake = write_celeba(tmp_path, n=6, partitions=[0, 1, 0, 2, 0, 1])
    trust_celeba(monkeypatch, tmp_path)
    files = [fake["image_dir"] / n for n in fake["filenames"]]
    train = ImageSource("celeba", data_root=str(tmp_path), split="train", image_size=32, cache=False).load()
    expected = _reference([files[i] for i in (0, 2, 4)], [transforms.Resize(32), transforms.CenterCrop(32)])
    assert train.shape == (3, 3, 32, 32) and torch.equal(train, expected)
    all64 = ImageSource("celeba", data_root=str(tmp_path), split="all", image_size=64, cache=False).load()
    assert torch.equal(all64, _reference(files, [transforms.Resize(64), transforms.CenterCrop(64)]))
    cropped = ImageSource("celeba", data_root=str(tmp_path), split="all", image_size=64, crop=140, cache=False).load()
    assert torch.equal(cropped, _reference(files, [transforms.CenterCrop(140), transforms.Resize(64)]))
    # seed 003's ImageFolder over the whole folder gives the same images in the same order as split=all
    folder = ImageSource("celeba", data_root=str(tmp_path), split="all", image_size=64,
                         celeba_loader="imagefolder", cache=False).load()
    assert torch.equal(folder, all64)


def test_celeba_decoded_images_are_cached(tmp_path, monkeypatch):
    write_celeba(tmp_path, n=4)
    trust_celeba(monkeypatch, tmp_path)
    src = ImageSource("celeba", data_root=str(tmp_path), split="all", image_size=32)
    first = src.load()
    cache = tmp_path / "cache" / "celeba-torchvision-all-32.npy"
    assert cache.exists() and np.array_equal(np.load(cache), first.numpy())
    marker = np.full(first.shape, 7, dtype=np.uint8)
    np.save(cache, marker)
    assert torch.equal(src.load(), torch.from_numpy(marker))  # read from the cache, not decoded
    np.save(cache, marker[:2])  # a stale cache (other number of images) is ignored and rebuilt
    assert torch.equal(src.load(), first)


def test_celeba_without_annotation_files(tmp_path, monkeypatch):
    write_celeba(tmp_path, n=3)
    (tmp_path / "celeba" / "identity_CelebA.txt").unlink()
    trust_celeba(monkeypatch, tmp_path)
    with pytest.raises(DataError, match=r"missing: identity_CelebA.txt"):
        ImageSource("celeba", data_root=str(tmp_path), split="all").load()
    images = ImageSource("celeba", data_root=str(tmp_path), split="all", celeba_loader="imagefolder",
                         cache=False).load()
    assert images.shape == (3, 3, 32, 32)


def test_image_source_validation_is_one_line_config_errors():
    bad = [dict(dataset="svhn"), dict(dataset="mnist", split="valid"), dict(dataset="cifar10", image_size=64),
           dict(dataset="mnist", classes=[0, 10]), dict(dataset="mnist", per_class=10),
           dict(dataset="celeba", classes=[1]), dict(dataset="mnist", crop=100),
           dict(dataset="celeba", celeba_loader="imagefolder", split="train"), dict(dataset="mnist", image_size=0)]
    for kw in bad:
        with pytest.raises(ConfigError) as err:
            ImageSource(**kw)
        assert "\n" not in str(err.value)


def test_data_root_defaults_to_the_environment(monkeypatch):
    monkeypatch.setenv("MINIMAX_DATA", "/somewhere/data")
    assert ImageSource("mnist").data_root == "/somewhere/data"
    monkeypatch.delenv("MINIMAX_DATA")
    assert ImageSource("mnist").data_root == "data"


# -- normalization and batches -------------------------------------------------------------------------
def test_normalization_is_totensor_then_normalize_bit_for_bit():
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    pil = Image.open(buf)
    to_tensor = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
    previous = torch.get_default_dtype()
    for dtype in (torch.float32, torch.float64):  # ToTensor produces the default dtype
        torch.set_default_dtype(dtype)
        try:
            ref = to_tensor(pil)
        finally:
            torch.set_default_dtype(previous)
        assert ref.dtype == dtype
        assert torch.equal(to_unit_range(torch.from_numpy(arr).permute(2, 0, 1), dtype), ref)
    assert to_unit_range(torch.tensor([0, 255], dtype=torch.uint8)).tolist() == [-1.0, 1.0]


def _images(n=10, c=1, s=4):
    return torch.arange(n * c * s * s, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(n, c, s, s)


def test_epoch_sampler_shuffles_without_replacement_and_drops_the_last_batch():
    s = EpochSampler(10, 3, seed=0)
    first_epoch = torch.cat([s.next() for _ in range(3)])
    assert len(set(first_epoch.tolist())) == 9 and s.epoch == 0
    second = s.next()
    assert s.epoch == 1 and len(second) == 3
    with pytest.raises(ConfigError):
        EpochSampler(10, 11, seed=0)


def test_batches_are_deterministic_and_resume_exactly_from_a_saved_state(tmp_path):
    images = _images(10)
    kw = dict(batch_size=4, seed=3, dtype=torch.float64, hflip=True, dequantize=True)
    a, b = ImageBatches(images, **kw), ImageBatches(images, **kw)
    for _ in range(3):
        assert torch.equal(a.next(), b.next())
    torch.save(a.state_dict(), tmp_path / "state.pt")
    expected = [a.next() for _ in range(5)]  # crosses epoch boundaries
    c = ImageBatches(images, **kw)
    c.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    assert all(torch.equal(e, c.next()) for e in expected)
    other_seed = ImageBatches(images, **{**kw, "seed": 4})
    assert not torch.equal(other_seed.next(), ImageBatches(images, **kw).next())


def test_flips_and_dequantization_noise():
    images = _images(6, c=1, s=4)
    plain = to_unit_range(images, torch.float64)
    batches = ImageBatches(images, batch_size=6, seed=0, dtype=torch.float64, hflip=True, dequantize=True)
    flips = 0
    for _ in range(20):
        sampler_state = batches.sampler.state_dict()
        x = batches.next()
        probe = EpochSampler(6, 6, 0)
        probe.load_state_dict(sampler_state)
        idx = probe.next()
        for img, i in zip(x, idx):
            noise_plain, noise_flip = img - plain[i], img - plain[i].flip(-1)
            ok_plain = bool(((noise_plain >= 0) & (noise_plain < 1 / 128)).all())
            ok_flip = bool(((noise_flip >= 0) & (noise_flip < 1 / 128)).all())
            assert ok_plain or ok_flip
            flips += (not ok_plain)
    assert 20 < flips < 100  # about half of 120 images flipped
    no_aug = ImageBatches(images, batch_size=6, seed=0, dtype=torch.float64)
    x = no_aug.next()
    assert x.min() >= -1 and x.max() <= 1
    assert all(any(torch.equal(img, p) for p in plain) for img in x)


def test_fixed_batch_is_reproducible_and_leaves_the_stream_alone():
    images = _images(10)
    a, b = ImageBatches(images, 4, seed=0), ImageBatches(images, 4, seed=0)
    f1 = a.fixed(5, seed=1)
    assert torch.equal(f1, b.fixed(5, seed=1)) and f1.dtype == torch.float32
    assert torch.equal(a.next(), b.next())
    assert a.nbytes == 10 * 16
    with pytest.raises(ConfigError):
        a.fixed(11)
