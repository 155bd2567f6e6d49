"""MNIST, CIFAR-10 and CelebA through torchvision's own dataset classes, preloaded as uint8.

Where the files must be (``data_root`` = ``game.data_root``, default ``$MINIMAX_DATA`` or
``./data``; torchvision's own layouts, which ``download=True`` creates):

    MNIST     <data_root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte
    CIFAR-10  <data_root>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}
    CelebA    <data_root>/celeba/img_align_celeba/*.jpg and <data_root>/celeba/
              {list_eval_partition, identity_CelebA, list_attr_celeba, list_bbox_celeba,
              list_landmarks_align_celeba}.txt     (``celeba_loader=imagefolder``: images only)

Missing files raise ``DataError`` with one line naming the exact paths; torchvision's MD5
checks (CIFAR-10, CelebA annotations) are kept, so a corrupt download is an error too.

Options (papers):
- MNIST classes 0 and 1 (Wang et al. 2020, App. D.3): ``classes=[0, 1]``, ``per_class=4800`` takes the
  first 4,800 training images of each class in file order. The paper says "4,800 per class ...
  overall 9,800", which is inconsistent (2 × 4,800 = 9,600); we follow the per-class number
  (9,600 images). ``per_class=null`` keeps every image of the chosen classes (12,665).
- ``image_size``: MNIST 28 (native) or 32 (zero-padded by 2 pixels, black border, for the
  32×32 architectures); CIFAR-10 32; CelebA any size, by default Fiez & Ratliff 2021's transform
  Resize(size) → CenterCrop(size) on the 178×218 aligned images (32 in Fiez & Ratliff 2021; 64 gives the
  usual DCGAN-64 crop); ``crop=c`` instead takes CenterCrop(c) → Resize(size) (e.g. 108 or 140,
  other common CelebA-64 crops).
- CelebA split: torchvision's ``CelebA`` class with ``split`` ∈ train | valid | test | all.
  Fiez & Ratliff 2021 loaded CelebA with ``ImageFolder`` over the whole folder, i.e. all 202,599 images in
  file-name order; ``split=all`` gives exactly that set in that order, and
  ``celeba_loader=imagefolder`` reproduces it literally for copies without the annotation files.

Images are kept as one uint8 tensor (N, C, H, W) — MNIST 47 MB (the 0/1 subset 7.5 MB), CIFAR-10
154 MB, CelebA 622 MB at 32×32 and 2.5 GB at 64×64 — on the training device, and a batch is an
index into it (``ImageBatches``). Decoding CelebA's JPEGs once takes minutes, so the decoded
tensor is cached as ``<data_root>/cache/celeba-<loader>-<split>-<size>[-crop<c>].npy``.
A batch is (u8/255 − 0.5)/0.5 ∈ [−1, 1] (ToTensor + Normalize(0.5, 0.5), bit for bit), then
optionally a random horizontal flip and Fiez & Ratliff 2021's dequantization noise x + U[0, 1)/128.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from minimax_cli import progress
from minimax_cli.errors import ConfigError, DataError
from minimax_cli.games.data.sampler import EpochSampler

log = logging.getLogger(__name__)

DATASETS = ("mnist", "cifar10", "celeba")
SPLITS = {"mnist": ("train", "test"), "cifar10": ("train", "test"), "celeba": ("train", "valid", "test", "all")}
CELEBA_LOADERS = ("torchvision", "imagefolder")
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")
CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")
CELEBA_FILES = ("list_eval_partition.txt", "identity_CelebA.txt", "list_attr_celeba.txt", "list_bbox_celeba.txt",
                "list_landmarks_align_celeba.txt")
NAMES = {"mnist": "MNIST", "cifar10": "CIFAR-10", "celeba": "CelebA"}


def default_data_root() -> str:
    return os.environ.get("MINIMAX_DATA", "data")


@dataclass(frozen=True)
class ImageSource:
    """Which images, validated cheaply (no file access) at construction; ``load()`` reads them."""

    dataset: str
    data_root: str | None = None
    split: str = "train"
    image_size: int | None = None
    classes: tuple | None = None
    per_class: int | None = None
    crop: int | None = None
    celeba_loader: str = "torchvision"
    download: bool = False
    cache: bool = True
    workers: int = 0

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown image dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.data_root is None:
            object.__setattr__(self, "data_root", default_data_root())
        if self.split not in SPLITS[self.dataset]:
            raise ConfigError(f"game.split for {self.dataset} must be one of {', '.join(SPLITS[self.dataset])} "
                              f"(got {self.split!r})")
        size = self.image_size
        native = {"mnist": 28, "cifar10": 32, "celeba": 32}[self.dataset]
        if size is None:
            object.__setattr__(self, "image_size", native)
        elif not _positive_int(size):
            raise ConfigError(f"game.image_size must be a positive integer (got {size!r})")
        allowed = {"mnist": (28, 32), "cifar10": (32,)}.get(self.dataset)
        if allowed and self.image_size not in allowed:
            raise ConfigError(f"game.image_size for {self.dataset} must be one of {allowed} (got {self.image_size})")
        if self.classes is not None:
            if self.dataset == "celeba":
                raise ConfigError("game.classes applies to mnist and cifar10 only (CelebA has no classes)")
            classes = tuple(self.classes)
            if not classes or not all(_int_in(c, 0, 9) for c in classes) or len(set(classes)) != len(classes):
                raise ConfigError(f"game.classes must be distinct integers in 0..9 (got {self.classes!r})")
            object.__setattr__(self, "classes", tuple(int(c) for c in classes))
        if self.per_class is not None and (self.classes is None or not _positive_int(self.per_class)):
            raise ConfigError(f"game.per_class must be a positive integer and needs game.classes (got "
                              f"per_class={self.per_class!r}, classes={self.classes!r})")
        if self.crop is not None and (self.dataset != "celeba" or not _positive_int(self.crop)):
            raise ConfigError(f"game.crop is a positive integer for celeba only (got {self.crop!r} for {self.dataset})")
        if self.celeba_loader not in CELEBA_LOADERS:
            raise ConfigError(f"game.celeba_loader must be one of {', '.join(CELEBA_LOADERS)} (got {self.celeba_loader!r})")
        if self.celeba_loader == "imagefolder" and self.split != "all":
            raise ConfigError("game.celeba_loader=imagefolder reads every image (Fiez & Ratliff 2021); it needs game.split=all")
        if not isinstance(self.workers, int) or self.workers < 0:
            raise ConfigError(f"game.workers must be an integer >= 0 (got {self.workers!r})")

    # -- what it is ------------------------------------------------------------------------------
    @property
    def channels(self) -> int:
        return 1 if self.dataset == "mnist" else 3

    @property
    def key(self) -> str:
        """A file-name-safe description of exactly these images (e.g. for cached FID statistics)."""
        parts = [self.dataset, self.split, str(self.image_size)]
        if self.classes is not None:
            parts.append("c" + "".join(map(str, self.classes)))
        if self.per_class is not None:
            parts.append(f"pc{self.per_class}")
        if self.crop is not None:
            parts.append(f"crop{self.crop}")
        return "-".join(parts)

    def expected_paths(self) -> list[Path]:
        """The files and folders torchvision needs for this dataset."""
        root = Path(self.data_root)
        if self.dataset == "mnist":
            return [root / "MNIST" / "raw" / f for f in MNIST_FILES]
        if self.dataset == "cifar10":
            return [root / "cifar-10-batches-py" / f for f in CIFAR10_FILES]
        images = [root / "celeba" / "img_align_celeba"]
        if self.celeba_loader == "imagefolder":
            return images
        return images + [root / "celeba" / f for f in CELEBA_FILES]

    def check(self) -> None:
        """Cheap existence check (no decoding): the one-line DataError ``load`` would raise for
        missing files, unless ``download`` will fetch them."""
        if not self.download and any(not p.exists() for p in self.expected_paths()):
            raise self._missing_error(None)

    # -- reading ---------------------------------------------------------------------------------
    def load(self) -> torch.Tensor:
        """The images as a uint8 tensor (N, C, H, W) on the CPU (raises DataError if missing)."""
        with progress.phase(f"reading {NAMES[self.dataset]} {self.split}", unit="images", detail=str(self.data_root)):
            if self.dataset == "celeba":
                images = self._load_celeba()
            else:
                images, targets = self._load_labelled()
                if self.classes is not None:
                    images = images[self._class_subset(targets)]
                if self.image_size == 32 and images.shape[-1] == 28:  # MNIST for 32×32 nets: black border
                    images = F.pad(images, (2, 2, 2, 2))
        log.info("%s: %d images of %s, %.1f MB", NAMES[self.dataset], len(images), tuple(images.shape[1:]),
                 images.numel() / 2 ** 20)
        return images

    def _load_labelled(self):
        from torchvision import datasets

        train = self.split == "train"
        if self.dataset == "mnist":
            ds = self._open(lambda: datasets.MNIST(self.data_root, train=train, download=self.download))
            return ds.data.unsqueeze(1).contiguous(), torch.as_tensor(ds.targets)
        ds = self._open(lambda: datasets.CIFAR10(self.data_root, train=train, download=self.download))
        return torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous(), torch.as_tensor(ds.targets)

    def _class_subset(self, targets: torch.Tensor) -> torch.Tensor:
        keep = []
        for c in self.classes:
            idx = torch.nonzero(targets == c).flatten()
            if self.per_class is not None:
                if len(idx) < self.per_class:
                    raise DataError(f"{NAMES[self.dataset]} {self.split} has only {len(idx)} images of class {c}; "
                                    f"game.per_class must be at most that (got {self.per_class})")
                idx = idx[:self.per_class]
            keep.append(idx)
        return torch.cat(keep).sort().values  # file order

    def _open(self, make):
        """Run a torchvision constructor; its errors become one-line DataErrors."""
        try:
            return make()
        except RuntimeError as exc:
            raise self._missing_error(exc) from None
        except ImportError as exc:  # CelebA's download needs gdown
            raise DataError(f"downloading {NAMES[self.dataset]} needs a package that is not installed ({exc}); "
                            f"or place the files yourself: {self._layout()}") from None
        except OSError as exc:  # network failures during download=True
            raise DataError(f"could not download {NAMES[self.dataset]} into {self.data_root} ({exc}); "
                            f"fetch it on a machine with internet: {self._layout()}") from None

    def _layout(self) -> str:
        return ", ".join(str(p) for p in self.expected_paths())

    def _missing_error(self, exc) -> DataError:
        name = NAMES[self.dataset]
        if self.download and exc is not None:
            return DataError(f"could not download {name} into {self.data_root} ({exc}); fetch the files on a machine "
                             f"with internet and place them as {self._layout()}")
        missing = [p for p in self.expected_paths() if not p.exists()]
        if missing:
            return DataError(
                f"{name} not found: torchvision expects {self._layout()} (missing: "
                f"{', '.join(p.name for p in missing)}); run with game.download=true on a machine with internet "
                f"to fetch them, or set game.data_root (default $MINIMAX_DATA or ./data) to where they are")
        return DataError(f"{name} files under {self.data_root} are present but torchvision rejected them ({exc}); "
                         f"a corrupt or partial download? delete them and run with game.download=true")

    # -- CelebA: decode once, cache -------------------------------------------------------------
    def _celeba_cache(self) -> Path:
        crop = f"-crop{self.crop}" if self.crop is not None else ""
        return Path(self.data_root) / "cache" / f"celeba-{self.celeba_loader}-{self.split}-{self.image_size}{crop}.npy"

    def _celeba_dataset(self):
        from torchvision import datasets, transforms

        s = self.image_size
        steps = [transforms.Resize(s), transforms.CenterCrop(s)] if self.crop is None else \
            [transforms.CenterCrop(self.crop), transforms.Resize(s)]
        transform = transforms.Compose([_rgb] + steps + [transforms.PILToTensor()])
        root = Path(self.data_root)
        if self.celeba_loader == "imagefolder":
            if not (root / "celeba" / "img_align_celeba").is_dir():
                raise self._missing_error(None)
            return self._open(lambda: datasets.ImageFolder(str(root / "celeba"), transform=transform))
        return self._open(lambda: datasets.CelebA(str(root), split=self.split, target_type=[], transform=transform,
                                                  download=self.download))

    def _load_celeba(self) -> torch.Tensor:
        ds = self._celeba_dataset()
        cache = self._celeba_cache()
        shape = (len(ds), 3, self.image_size, self.image_size)
        cached = load_image_cache(cache, shape) if self.cache else None
        if cached is not None:
            return cached
        loader = torch.utils.data.DataLoader(ds, batch_size=256, shuffle=False, num_workers=self.workers,
                                             collate_fn=_stack_images)
        chunks = []
        with progress.phase(f"decoding CelebA at {self.image_size}×{self.image_size}", total=len(ds), unit="images",
                            detail=f"once, then read from {cache}" if self.cache else "") as decoding:
            for chunk in loader:
                chunks.append(chunk)
                decoding.update(len(chunk))
        images = torch.cat(chunks) if chunks else torch.zeros(shape, dtype=torch.uint8)
        if self.cache:
            save_image_cache(cache, images)
        return images


def load_image_cache(path: Path, shape: tuple) -> torch.Tensor | None:
    """Decoded uint8 images saved by ``save_image_cache``, or None (absent, or not of ``shape``)."""
    if not path.is_file():
        return None
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:   # truncated or not an array: decoded again, then rewritten
        log.warning("ignoring the unreadable image cache %s (%s); decoding the images again", path,
                    " ".join(str(exc).split())[:120])
        return None
    if arr.shape == shape and arr.dtype == np.uint8:
        return torch.from_numpy(arr)
    log.warning("ignoring %s: shape %s, expected %s", path, arr.shape, shape)
    return None


def save_image_cache(path: Path, images: torch.Tensor) -> None:
    """Save decoded images atomically (a temporary file renamed), so a crash leaves no torn cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, images.numpy())
    os.replace(tmp, path)


@dataclass(frozen=True)
class SyntheticImages:
    """Random uint8 images of a given shape (``game.dataset=synthetic``): no files, for benchmarks
    and tests. Pixel values are i.i.d. uniform on 0..255 from a generator seeded with ``seed``."""

    channels: int = 3
    image_size: int = 32
    size: int = 1024
    seed: int = 0
    dataset: str = "synthetic"
    download: bool = False

    def __post_init__(self):
        for key in ("channels", "image_size", "size"):
            if not _positive_int(getattr(self, key)):
                raise ConfigError(f"game.{'synthetic_size' if key == 'size' else key} must be a positive integer "
                                  f"(got {getattr(self, key)!r})")

    @property
    def key(self) -> str:
        return f"synthetic-c{self.channels}-{self.image_size}-n{self.size}-s{self.seed}"

    def expected_paths(self) -> list[Path]:
        return []

    def check(self) -> None:
        pass

    def load(self) -> torch.Tensor:
        gen = torch.Generator().manual_seed(int(self.seed))
        shape = (self.size, self.channels, self.image_size, self.image_size)
        return torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8)


def _rgb(image):
    return image.convert("RGB")


def _stack_images(batch):
    return torch.stack([item[0] for item in batch])


def _positive_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _int_in(v, lo, hi) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def to_unit_range(images_u8: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """uint8 → [−1, 1] exactly as ToTensor() then Normalize(0.5, 0.5): (x/255 − 0.5)/0.5."""
    return (images_u8.to(dtype) / 255 - 0.5) / 0.5


class ImageBatches:
    """Training batches from preloaded uint8 images on the device (see the module docstring).

    ``next()`` → (batch_size, C, H, W) in ``dtype``; randomness (shuffling, flips, noise) comes
    from the sampler's generator, so ``state_dict``/``load_state_dict`` resume the stream exactly.
    """

    def __init__(self, images_u8: torch.Tensor, batch_size: int, seed: int, device="cpu",
                 dtype=torch.float32, hflip: bool = False, dequantize: bool = False):
        if images_u8.dtype != torch.uint8 or images_u8.dim() != 4:
            raise ValueError("images must be a uint8 tensor (N, C, H, W)")
        self.device, self.dtype = torch.device(device), dtype
        self.images = images_u8.to(self.device)
        self.hflip, self.dequantize = bool(hflip), bool(dequantize)
        self.sampler = EpochSampler(len(self.images), batch_size, seed, self.device)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def nbytes(self) -> int:
        return self.images.numel() * self.images.element_size()

    def next(self) -> torch.Tensor:
        idx = self.sampler.next()
        x = to_unit_range(self.images[idx], self.dtype)
        gen = self.sampler.generator
        if self.hflip:
            flip = torch.rand(len(idx), generator=gen, device=self.device) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
        if self.dequantize:  # Fiez & Ratliff 2021 (GAN_stability): x + U[0, 1)/128 after normalization
            x = x + torch.rand(x.shape, generator=gen, device=self.device, dtype=self.dtype) / 128
        return x

    def fixed(self, n: int, seed: int = 0) -> torch.Tensor:
        """n images without augmentation: the first n of a permutation drawn with ``seed`` (a
        fixed evaluation batch / the real images of FID statistics); leaves the stream alone."""
        if not 1 <= n <= len(self):
            raise ConfigError(f"asked for {n} fixed images from a dataset of {len(self)}")
        gen = torch.Generator().manual_seed(int(seed))
        idx = torch.randperm(len(self), generator=gen)[:n].to(self.device)
        return to_unit_range(self.images[idx], self.dtype)

    def state_dict(self) -> dict:
        return {"sampler": self.sampler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.load_state_dict(state["sampler"])
