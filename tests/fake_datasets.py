"""Tiny fake MNIST, CIFAR-10 and CelebA in torchvision's REAL on-disk formats (for offline tests).

Each ``write_*`` creates the exact files and folders torchvision's dataset class reads under
``root`` and returns the pixels/labels it wrote, so tests can compare what the loaders return.

Integrity checks: torchvision's MNIST only checks that the raw files exist. CIFAR10 and CelebA
compare the MD5 of each file with digests hard-coded in the class (``CIFAR10.train_list``,
``test_list``, ``meta``; ``CelebA.file_list``); fake files cannot have the real digests, so
``trust_cifar10``/``trust_celeba`` set those class attributes (with pytest's monkeypatch, undone
after the test) to the MD5 of the fake files: torchvision's own check then runs unchanged and
passes legitimately, and a file changed after writing would still be rejected.
"""

from __future__ import annotations

import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np

CELEBA_ATTRS = ["5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
                "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby",
                "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male",
                "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin",
                "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair",
                "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace",
                "Wearing_Necktie", "Young"]
LANDMARKS = ["lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y", "leftmouth_x", "leftmouth_y",
             "rightmouth_x", "rightmouth_y"]


def md5(path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


# -- MNIST: <root>/MNIST/raw/*-idx?-ubyte (big-endian IDX: magic 0x0803 images, 0x0801 labels) -----
def _write_idx(path: Path, array: np.ndarray):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root, n_train: int = 30, n_test: int = 10, seed: int = 0) -> dict:
    """Labels cycle 0..9 (image i has label i % 10)."""
    rng = np.random.default_rng(seed)
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        out[prefix] = (images, labels)
    return {"train_images": out["train"][0], "train_labels": out["train"][1],
            "test_images": out["t10k"][0], "test_labels": out["t10k"][1]}


# -- CIFAR-10: <root>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta} (pickles) -------
def write_cifar10(root, per_batch: int = 4, n_test: int = 4, seed: int = 0) -> dict:
    """Rows are 3072 bytes, channel-major (R plane, G plane, B plane), as in the real files."""
    rng = np.random.default_rng(seed)
    base = Path(root) / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    train_rows, train_labels = [], []
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        n = n_test if name == "test_batch" else per_batch
        rows = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = [int(v) for v in (np.arange(n) + k) % 10]
        entry = {"batch_label": f"fake {name}", "labels": labels, "data": rows,
                 "filenames": [f"img_{k}_{i}.png" for i in range(n)]}
        with open(base / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
        if name != "test_batch":
            train_rows.append(rows)
            train_labels += labels
        else:
            test = (rows, labels)
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
            "num_cases_per_batch": per_batch, "num_vis": 3072}
    with open(base / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    hwc = lambda rows: rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # noqa: E731
    return {"train_images": hwc(np.concatenate(train_rows)), "train_labels": np.array(train_labels),
            "test_images": hwc(test[0]), "test_labels": np.array(test[1])}


def trust_cifar10(monkeypatch, root) -> None:
    """Make torchvision's CIFAR10 MD5 check expect the fake files' digests."""
    from torchvision.datasets import CIFAR10

    base = Path(root) / "cifar-10-batches-py"
    monkeypatch.setattr(CIFAR10, "train_list", [[n, md5(base / n)] for n, _ in CIFAR10.train_list])
    monkeypatch.setattr(CIFAR10, "test_list", [[n, md5(base / n)] for n, _ in CIFAR10.test_list])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5(base / CIFAR10.meta["filename"])})


# -- CelebA: <root>/celeba/img_align_celeba/NNNNNN.jpg + five annotation files ----------------------
def write_celeba(root, n: int = 6, partitions=None, seed: int = 0, size=(178, 218)) -> dict:
    """178×218 RGB JPEGs (the aligned CelebA size) and the five annotation files torchvision
    parses, in the real files' layouts (count line + header line where the real ones have them)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = Path(root) / "celeba"
    img_dir = base / "img_align_celeba"
    img_dir.mkdir(parents=True, exist_ok=True)
    partitions = list(partitions) if partitions is not None else [i % 3 for i in range(n)]
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    w, h = size
    for name in names:
        # a smooth random gradient plus noise: JPEG-friendly but different in every image
        yy, xx = np.mgrid[0:h, 0:w]
        a = rng.uniform(0, 1, size=3)
        rgb = np.stack([(a[c] * 255 * (xx / w + yy / h) / 2) for c in range(3)], -1)
        rgb = np.clip(rgb + rng.normal(0, 20, size=rgb.shape), 0, 255).astype(np.uint8)
        Image.fromarray(rgb, "RGB").save(img_dir / name, quality=95)
    lines = {
        "list_eval_partition.txt": [f"{nm} {p}" for nm, p in zip(names, partitions)],
        "identity_CelebA.txt": [f"{nm} {1000 + i}" for i, nm in enumerate(names)],
        "list_bbox_celeba.txt": [str(n), "image_id x_1 y_1 width height"]
        + [f"{nm} {10 + i} {20 + i} {100 + i} {150 + i}" for i, nm in enumerate(names)],
        "list_landmarks_align_celeba.txt": [str(n), " ".join(LANDMARKS)]
        + [f"{nm} " + " ".join(str(60 + j + i) for j in range(10)) for i, nm in enumerate(names)],
        "list_attr_celeba.txt": [str(n), " ".join(CELEBA_ATTRS)]
        + [f"{nm} " + " ".join("1" if (i + j) % 2 else "-1" for j in range(40)) for i, nm in enumerate(names)],
    }
    for fname, rows in lines.items():
        (base / fname).write_text("\n".join(rows) + "\n")
    return {"filenames": names, "partitions": partitions, "image_dir": img_dir}


def trust_celeba(monkeypatch, root) -> None:
    """Make torchvision's CelebA MD5 check expect the fake annotation files' digests."""
    from torchvision.datasets import CelebA

    base = Path(root) / "celeba"
    entries = [(fid, (md5(base / name) if (base / name).exists() else digest), name)
               for fid, digest, name in CelebA.file_list]
    monkeypatch.setattr(CelebA, "file_list", entries)
