"""Any folder of images as an image GAN's data (``game=images game.root=DIR``).

Every file under ``root`` (sub-folders included, hidden ones skipped) whose suffix is an image
format Pillow reads (IMAGE_SUFFIXES), in sorted path order, converted to RGB (``channels=3``) or
grayscale (``channels=1``) and brought to ``image_size`` × ``image_size`` by Resize(size) →
CenterCrop(size) (the shorter side scaled to size, the centre kept: CelebA's transform of seed
003). Decoded once into a uint8 tensor (N, C, S, S), like the torchvision datasets.

The folder's ``key`` (FID statistics file, decoded cache) holds a fingerprint of its content: the
sha256 of every image's relative path and bytes (not its size and time: another folder whose files
share those would read this one's cache). Adding, removing or changing an image gives a new key, so
cached images and real statistics always belong to the images as they are now. The
decoded tensor is cached as ``<data_root>/cache/<key>.npy`` (``cache=true``); FID statistics go to
``<data_root>/fid_stats/`` as for every image dataset. The folder itself is only read.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from minimax_cli.errors import ConfigError, DataError
from minimax_cli.games.data.images import load_image_cache, save_image_cache

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


@dataclass(frozen=True)
class FolderImages:
    root: str | None
    image_size: int = 32
    channels: int = 3
    data_root: str | None = None
    cache: bool = True
    dataset: str = "folder"
    download: bool = False
    _files: list = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self):
        if self.root in (None, ""):
            raise ConfigError("game.root must be the folder of your images (game=images game.root=DIR)")
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, int) or self.image_size < 1:
            raise ConfigError(f"game.image_size must be a positive integer (got {self.image_size!r})")
        if self.channels not in (1, 3):
            raise ConfigError(f"game.channels for a folder of images must be 1 (grayscale) or 3 (RGB) "
                              f"(got {self.channels!r})")
        object.__setattr__(self, "root", str(Path(str(self.root)).expanduser()))
        if self.data_root is None:
            from minimax_cli.games.data.images import default_data_root

            object.__setattr__(self, "data_root", default_data_root())

    # -- what it is ------------------------------------------------------------------------------
    def files(self) -> list[Path]:
        """The image files, sorted (scanned once)."""
        if not self._files:
            root = Path(self.root)
            found = []
            for folder, dirs, names in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [Path(folder) / n for n in names
                          if not n.startswith(".") and Path(n).suffix.lower() in IMAGE_SUFFIXES]
            # a FIFO would block the decoder forever, a dangling link cannot be read: skipped, said once
            skipped = [p for p in found if not p.is_file()]
            if skipped:
                log.warning("game.root: skipping %d entr%s that %s not a readable file (a FIFO, device or broken "
                            "link), e.g. %s", len(skipped), "y" if len(skipped) == 1 else "ies",
                            "is" if len(skipped) == 1 else "are", skipped[0])
            self._files.extend(sorted(p for p in found if p.is_file()))
        return self._files

    @property
    def key(self) -> str:
        digest = hashlib.sha256()
        for path in self.files():
            digest.update(f"{path.relative_to(self.root)}\0".encode())
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            digest.update(b"\n")
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(self.root).resolve().name) or "root"
        return f"folder-{name}-{digest.hexdigest()[:16]}-c{self.channels}-{self.image_size}"

    def expected_paths(self) -> list[Path]:
        return [Path(self.root)]

    def check(self) -> None:
        """The folder exists and holds at least two images (no decoding)."""
        root = Path(self.root)
        if not root.is_dir():
            raise DataError(f"game.root: no folder {root.resolve()} (a relative path is from the directory minimax "
                            f"runs in)")
        n = len(self.files())
        if n < 2:
            raise DataError(f"game.root: {root} holds {n} image file(s) ({', '.join(IMAGE_SUFFIXES)}, sub-folders "
                            f"included); a GAN needs at least 2")

    # -- reading ---------------------------------------------------------------------------------
    def load(self) -> torch.Tensor:
        """The images as uint8 (N, C, S, S) on the CPU (DataError naming a file Pillow cannot read)."""
        self.check()
        cache = Path(self.data_root) / "cache" / f"{self.key}.npy"
        shape = (len(self.files()), self.channels, self.image_size, self.image_size)
        cached = load_image_cache(cache, shape) if self.cache else None
        if cached is not None:
            return cached
        from PIL import Image
        from torchvision import transforms

        resize = transforms.Compose([transforms.Resize(self.image_size), transforms.CenterCrop(self.image_size),
                                     transforms.PILToTensor()])
        mode = "RGB" if self.channels == 3 else "L"
        images = torch.empty(shape, dtype=torch.uint8)
        for i, path in enumerate(self.files()):
            try:
                with Image.open(path) as image:
                    images[i] = resize(image.convert(mode))
            except Exception as exc:  # noqa: BLE001  a corrupt or unsupported file: one line
                raise DataError(f"game.root: cannot read image {path} ({type(exc).__name__}: "
                                f"{' '.join(str(exc).split())[:160]}); remove or replace it") from None
        log.info("%s: %d images decoded to %s", self.root, len(images), tuple(images.shape[1:]))
        if self.cache:
            save_image_cache(cache, images)
        return images
