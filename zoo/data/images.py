"""Image data sets: scikit-learn's digits, MNIST, Fashion-MNIST, and a folder of labelled images.

All of them end the same way: uint8 tensors (N, C, H, W) in memory, resized once to the model's input
size, batched by index (see ``base.py``). Conversion to float and augmentation happen per batch after
the batch reaches its device (``on_after_batch_transfer``), so a GPU does that work when there is one.
Normalisation is the task's job (it keeps the training split's mean and std), which makes a trained
checkpoint accept raw images.
"""

from __future__ import annotations

import contextlib
import math
import sys
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from zoo.data.base import InMemoryDataModule
from zoo.data.idx import read_idx
from zoo.errors import DataError, UsageError
from zoo.registry import register_dataset

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def resize_images(x: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, h, w) -> (N, C, size, size), bilinear with antialiasing, in chunks: uint8 stays uint8
    (rounded), anything else comes back as float32."""
    if x.shape[-2:] == (size, size):
        return x
    dtype = torch.uint8 if x.dtype == torch.uint8 else torch.float32
    out = torch.empty(len(x), x.shape[1], size, size, dtype=dtype)
    for start in range(0, len(x), 4096):
        chunk = x[start : start + 4096].float()
        chunk = F.interpolate(chunk, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start : start + 4096] = chunk.round_().clamp_(0, 255) if dtype == torch.uint8 else chunk
    return out


def image_batch(inputs: Any, channels: int, size: int | None) -> torch.Tensor:
    """Images as people have them, as one float batch (N, channels, size, size) in [0, 1].

    ``inputs``: a PIL image, a file path, a numpy array or torch tensor of one image or a batch, or a list
    of any of these, of mixed sizes. ``channels`` is what the model takes (1: grey, 3: colour). How an
    array's dimensions are read, never collapsing a batch into one image:

    - 2-D: one grey image (H, W).
    - 3-D: one image channels-last (H, W, C) where the last dimension is 1 to 4 and the first more than 4
      (``np.array(pil_image)``); else, for a grey model, a batch (N, H, W) of grey images (Keras'
      ``fashion_mnist.load_data()``); for a colour model, one image channels-first (C, H, W) where the
      first dimension is 3 or 4, with a warning, since (3, 28, 28) could be three grey images too (pass
      ``x[None]`` for one image, ``x[:, None]`` for N grey images, to say which), else a batch (N, H, W).
    - 4-D: a batch, (N, H, W, C) where the last dimension is 1 to 4 and the second more than 4, else
      (N, C, H, W).

    Channels: 1 grey, 2 grey and alpha, 3 RGB, 4 RGBA. Values: uint8 0-255, uint16 0-65535, other integers
    0-255, floats 0-1; anything else is refused in one line (scikit-learn's digits are floats 0-16: divide
    them by 16). Colour becomes grey (ITU-R 601 luma) or grey colour, transparent pixels black, and each
    image is resized to ``size`` (bilinear, antialiased, as training images were); ``size`` None keeps the
    images' own size, which must then be the same for all. Files are read as ``open_image`` reads them:
    past Pillow's pixel limit they are refused as unreadable (``DataError``), large ones decoded reduced.
    """
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    groups = [_channels(group, channels) for item in items for group in _as_batches(item, channels, size)]
    if not groups or not sum(len(g) for g in groups):
        raise UsageError("no images given")
    if size is None:
        shapes = {tuple(g.shape[-2:]) for g in groups}
        if len(shapes) > 1:
            sizes = ", ".join("x".join(map(str, s)) for s in sorted(shapes))
            raise UsageError(f"images of different sizes ({sizes}) for a model without a fixed input size")
        return torch.cat(groups)
    return torch.cat([resize_images(g, size) for g in groups])


def read_image(path: str | Path, channels: int, size: int) -> torch.Tensor:
    """One image file as uint8 (channels, size, size), converted as ``image_batch`` converts every image
    (so a trained model meets files at prediction exactly as it met its training folder's)."""
    return image_batch(path, channels, size)[0].mul(255).round_().to(torch.uint8)


class UnreadableImage(DataError):
    """A file zoo cannot read as an image; ``reason`` says why without the path. (A DataError, which is
    what ``zoo.predict`` skips and names.)"""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"cannot read image {path}: {reason}")
        self.path, self.reason = path, reason


# Pillow refuses images of more than twice Image.MAX_IMAGE_PIXELS (89,478,485 unless changed, about
# 9,459 x 9,459) as decompression bombs and only warns between once and twice; zoo refuses from once: a
# 20000x20000 PNG of one colour is 0.4 MB on disk and gigabytes decoded.
# Larger than LARGE_IMAGE pixels, an image is decoded reduced (JPEG) or shrunk right after decoding (see
# ``_reduced``), never converted to floats at full size.
LARGE_IMAGE = 2048 * 2048


def open_image(path: str | Path, size: int | None = None) -> Any:
    """A file as a loaded PIL image. Past ``PIL.Image.MAX_IMAGE_PIXELS`` it is refused before decoding;
    past ``LARGE_IMAGE`` pixels, with a ``size`` to go to, it comes back reduced to at least 4x ``size`` a
    side. Anything Pillow cannot decode (not an image, truncated, a bomb) raises ``UnreadableImage``."""
    import re
    import warnings

    from PIL import Image

    path = Path(path)
    limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # (refused below, in one line)
            img = Image.open(path)
    except FileNotFoundError:
        raise DataError(f"image not found: {path}") from None
    except Image.DecompressionBombError as err:
        pixels = re.search(r"\((\d+) pixels\)", str(err))
        said = f"{int(pixels[1]):,} pixels" if pixels else "too many pixels"
        raise UnreadableImage(path, f"{said}, past the limit PIL.Image.MAX_IMAGE_PIXELS = {limit:,}") from None
    except Exception as err:  # Pillow raises OSError, SyntaxError, ValueError, struct.error... for broken files
        raise UnreadableImage(path, _reason(err, path)) from None
    with img:
        width, height = img.size
        if limit and width * height > limit:
            raise UnreadableImage(
                path,
                f"{width}x{height} is {width * height:,} pixels, past the limit PIL.Image.MAX_IMAGE_PIXELS = {limit:,}",
            )
        try:
            if size and width * height > LARGE_IMAGE:
                img.draft(None, (4 * size, 4 * size))  # (JPEG only: decoded at 1/2, 1/4 or 1/8 of its size)
            img.load()
        except Exception as err:
            raise UnreadableImage(path, _reason(err, path)) from None
        return img


def _reason(err: Exception, path: Path) -> str:
    """Pillow's message without the path it repeats (``cannot identify image file '/the/path'``)."""
    return str(err).replace(f" {str(path)!r}", "").strip(" :") or type(err).__name__


def _reduced(img: Any, size: int | None) -> Any:
    """An image of more than LARGE_IMAGE pixels shrunk to at most 4x ``size`` a side by box averages (in
    Pillow's C, each side keeping its extent exactly), so the antialiased resize that follows sees nearly
    what it would have seen (within a few levels of 255) from a fraction of the memory: a 6000x6000 PNG
    took 1 GB more as floats at full size, one of 13000x13000 6 GB."""
    if not size or img.width * img.height <= LARGE_IMAGE:
        return img
    from PIL import Image

    return img.resize((min(img.width, 4 * size), min(img.height, 4 * size)), Image.Resampling.BOX)


def _as_batches(item: Any, channels: int, size: int | None) -> list[torch.Tensor]:
    """One input -> float (n, C, H, W) batches in [0, 1] (one per image of a list, one for an array)."""
    from PIL import Image

    if isinstance(item, (str, Path)):
        item = open_image(item, size)
    if isinstance(item, Image.Image):
        img = eight_bit(item, size)
        if img.mode == "P" or "transparency" in img.info:
            img = img.convert("RGBA")
        elif img.mode not in ("L", "LA", "RGB", "RGBA"):
            img = img.convert("RGB")  # (CMYK, YCbCr, bilevel, ...)
        array = torch.from_numpy(np.array(_reduced(img, size)))  # (H, W) or (H, W, C): Pillow's layout
        return [_unit(array.permute(2, 0, 1)[None] if array.dim() == 3 else array[None, None])]
    array = item if isinstance(item, torch.Tensor) else torch.from_numpy(np.array(item))  # (a writable copy)
    return [_unit(_nchw(array, channels))]


def _nchw(array: torch.Tensor, channels: int) -> torch.Tensor:
    """An array as (N, C, H, W), by the rules in ``image_batch``'s docstring."""
    shape = tuple(array.shape)
    if array.dim() == 2:
        return array[None, None]
    if array.dim() == 4:
        return array.permute(0, 3, 1, 2) if shape[3] <= 4 < shape[1] else array
    if array.dim() != 3:
        raise UsageError(
            f"images must have 2 dimensions (H, W), 3 (H, W, C), (N, H, W) or (C, H, W), or 4 for a batch "
            f"(N, C, H, W) or (N, H, W, C); got shape {shape}"
        )
    if shape[2] <= 4 < shape[0]:
        return array.permute(2, 0, 1)[None]  # one (H, W, C) image
    if channels == 3 and shape[0] in (3, 4):
        import warnings

        zoo_dir, level, frame = str(Path(__file__).parents[1]), 1, sys._getframe()
        while frame is not None and frame.f_code.co_filename.startswith(zoo_dir):  # (point at the caller's line)
            level, frame = level + 1, frame.f_back
        warnings.warn(
            f"read an array of shape {shape} as one colour image (C, H, W); pass x[None] to say so, or "
            f"x[:, None] for {shape[0]} grey images",
            stacklevel=level,
        )
        return array[None]
    return array[:, None]  # (N, H, W): grey images


def _unit(array: torch.Tensor) -> torch.Tensor:
    if array.dtype == torch.uint8:
        return array.float() / 255
    if array.dtype == torch.uint16:
        return array.float() / 65535
    if array.dtype == torch.bool:
        return array.float()
    low, high = (float(array.min()), float(array.max())) if array.numel() else (0.0, 0.0)
    if not array.is_floating_point():
        if low < 0 or high > 255:
            raise UsageError(f"integer images must hold values 0-255 (or be uint16), got {low:g} to {high:g}")
        return array.float() / 255
    if low < 0 or high > 1 or not np.isfinite([low, high]).all():
        raise UsageError(
            f"float images must hold values in [0, 1] (or be uint8 0-255), got {low:g} to {high:g}: scale them "
            "first (scikit-learn's digits are 0-16: divide by 16)"
        )
    return array.float()


def _channels(batch: torch.Tensor, channels: int) -> torch.Tensor:
    """(n, C, H, W) with C of 1 to 4 -> (n, channels, H, W)."""
    if not 1 <= batch.shape[1] <= 4:
        raise UsageError(
            f"images of {batch.shape[1]} channels (shape {tuple(batch.shape)}): zoo reads 1 (grey), 2 (grey and "
            "alpha), 3 (RGB) or 4 (RGBA)"
        )
    if batch.shape[1] in (2, 4):  # with alpha: laid over black, the background of MNIST-like images
        batch = batch[:, :-1] * batch[:, -1:]
    if batch.shape[1] == channels:
        return batch
    if channels == 1:
        return 0.299 * batch[:, :1] + 0.587 * batch[:, 1:2] + 0.114 * batch[:, 2:3]  # (Pillow's "L")
    return batch.expand(-1, channels, -1, -1)


def random_affine(x: torch.Tensor, *, shift: float, rotate: float, scale: float, hflip: bool) -> torch.Tensor:
    """A different random shift/rotation/zoom (and mirror) for every image of a float batch (B, C, H, W).

    ``shift`` is a fraction of the image size, ``rotate`` in degrees, ``scale`` a relative zoom range;
    uncovered pixels become 0 (black), like Keras' ``ImageDataGenerator(fill_mode="constant")``.
    """
    b = x.shape[0]
    u = torch.rand(5, b, device=x.device) * 2 - 1  # five uniform draws in [-1, 1] per image
    angle = u[0] * math.radians(rotate)
    zoom = 1 + u[1] * scale
    flip = torch.where(u[2] < 0, -1.0, 1.0) if hflip else torch.ones(b, device=x.device)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # affine_grid works in [-1, 1] coordinates: a shift of s image widths is 2s there.
    theta = torch.stack(
        [
            torch.stack([cos * flip, -sin, u[3] * 2 * shift], dim=1),
            torch.stack([sin * flip, cos, u[4] * 2 * shift], dim=1),
        ],
        dim=1,
    )  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class ImageDataModule(InMemoryDataModule):
    """Shared options of every image set. Subclasses implement ``load()`` returning uint8 (N, C, H, W)."""

    def __init__(
        self,
        *,
        image_size: int | None = None,
        augment: bool = False,
        shift: float = 0.1,
        rotate: float = 0.0,
        scale: float = 0.0,
        hflip: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if image_size is not None and image_size < 1:
            raise UsageError(f"data.image_size must be a positive integer, got {image_size}")
        if not 0.0 <= shift < 1.0 or not 0.0 <= scale < 1.0 or rotate < 0:
            raise UsageError("data.shift and data.scale must be in [0, 1), data.rotate >= 0 (degrees)")
        self.image_size = image_size
        self.augment, self.shift, self.rotate, self.scale, self.hflip = augment, shift, rotate, scale, hflip

    def prepare_features(self, x: torch.Tensor) -> torch.Tensor:
        return resize_images(x, self.image_size) if self.image_size else x

    def unit_features(self, x: torch.Tensor) -> torch.Tensor:
        return x.double() / 255

    def describe(self) -> dict[str, Any]:
        c, h, _ = self.train_set.tensors[0].shape[1:]
        return {**super().describe(), "in_channels": c, "input_size": h}

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        x, y = batch
        x = x.float().div_(255)  # (B, C, H, W) in [0, 1]
        if self.augment and self.trainer is not None and self.trainer.training:
            x = random_affine(x, shift=self.shift, rotate=self.rotate, scale=self.scale, hflip=self.hflip)
        return x, y


@register_dataset("digits")
class DigitsDataModule(ImageDataModule):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes): needs no network."""

    def __init__(self, *, test_split: float = 0.2, **kwargs: Any):
        super().__init__(**kwargs)
        self.set_test_split(test_split)

    def load(self):
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = torch.from_numpy(digits.images * (255.0 / 16.0)).round().to(torch.uint8).unsqueeze(1)
        self.class_names = [str(c) for c in digits.target_names]
        return x, torch.from_numpy(digits.target).long(), None, None


# --- MNIST and Fashion-MNIST from idx files --------------------------------------------------------

_IDX_FILES = {
    "train_images": "train-images*idx3*",
    "train_labels": "train-labels*idx1*",
    "test_images": "t10k-images*idx3*",
    "test_labels": "t10k-labels*idx1*",
}


def find_idx_files(folder: Path) -> dict[str, Path] | None:
    """The four idx files in ``folder`` (plain or .gz, any of the usual spellings), or None if any is missing."""
    found = {}
    for key, pattern in _IDX_FILES.items():
        matches = sorted(folder.glob(pattern), key=lambda p: p.suffix == ".gz")  # prefer unzipped
        if not matches:
            return None
        found[key] = matches[0]
    return found


class IdxDataModule(ImageDataModule):
    """MNIST-format data: the four idx files from ``root``, or downloaded by torchvision when missing.

    ``root=None`` looks in ``/usr/share/datasets/<name>`` (where Debian's ``dataset-fashion-mnist``
    installs) and then in ``~/.cache/zoo/<name>``, which is also where a download goes.
    """

    name: str
    torchvision_name: str  # the torchvision class, and its folder under root
    classes: list[str]

    def __init__(self, *, root: str | None = None, download: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.root, self.download = root, download
        self.class_names = list(self.classes)

    def candidate_folders(self) -> list[Path]:
        if self.root is not None:
            roots = [Path(self.root).expanduser()]
        else:
            roots = [Path("/usr/share/datasets") / self.name, self.cache_dir()]
        return [f for r in roots for f in (r, r / self.torchvision_name / "raw")]

    def cache_dir(self) -> Path:
        return Path.home() / ".cache" / "zoo" / self.name

    def locate(self) -> dict[str, Path] | None:
        for folder in self.candidate_folders():
            if folder.is_dir() and (files := find_idx_files(folder)):
                return files
        return None

    def prepare_data(self) -> None:
        if self.root is not None and not Path(self.root).expanduser().is_dir():
            raise DataError(f"data folder not found: {self.root}")
        if self.locate() is not None:
            return
        where = self.root or self.cache_dir()
        alternatives = (
            "put the four idx files in a folder and pass --data.root DIR "
            "(Debian: apt-get install dataset-fashion-mnist puts Fashion-MNIST in "
            "/usr/share/datasets/fashion-mnist), or use --data.name digits, which needs no download"
        )
        if not self.download:
            raise DataError(f"{self.name}: idx files not found in {where} and data.download is false; {alternatives}")
        import torchvision.datasets

        dataset_class = getattr(torchvision.datasets, self.torchvision_name)
        try:
            with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the run's own lines
                for train in (True, False):
                    dataset_class(root=str(where), train=train, download=True)
        except Exception as err:  # urllib, socket and torchvision errors all mean the same thing here
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise DataError(
                f"{self.name}: idx files not in {where} and the download failed ({reason}); {alternatives}"
            ) from None

    def load(self):
        files = self.locate()
        if files is None:
            self.prepare_data()
            files = self.locate()
        arrays = {key: read_idx(path) for key, path in files.items()}
        for split in ("train", "test"):
            images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise DataError(
                    f"{files[split + '_images']} and {files[split + '_labels']} do not match: "
                    f"images {images.shape}, labels {labels.shape}"
                )
            if labels.size and labels.max() >= len(self.classes):
                raise DataError(f"{files[split + '_labels']}: label {labels.max()} outside 0..{len(self.classes) - 1}")

        def images(key: str) -> torch.Tensor:
            return torch.from_numpy(np.array(arrays[key], dtype=np.uint8)).unsqueeze(1)

        def labels(key: str) -> torch.Tensor:
            return torch.from_numpy(np.array(arrays[key], dtype=np.int64))

        return images("train_images"), labels("train_labels"), images("test_images"), labels("test_labels")


@register_dataset("mnist")
class MNISTDataModule(IdxDataModule):
    """MNIST handwritten digits (LeCun et al.), 60,000 + 10,000 28x28 grey images."""

    torchvision_name = "MNIST"
    classes = [str(i) for i in range(10)]


@register_dataset("fashion-mnist")
class FashionMNISTDataModule(IdxDataModule):
    """Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), Zalando's drop-in replacement for MNIST."""

    torchvision_name = "FashionMNIST"
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


# --- a folder of labelled images -------------------------------------------------------------------


def class_folders(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def has_images(folder: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.rglob("*"))


def eight_bit(img: Any, size: int | None = None) -> Any:
    """A 16-bit (or 32-bit integer) grey image scaled to 8 bits, as image viewers show it; Pillow's own
    conversion clips every value above 255, which turns a 16-bit image nearly white. A large one is
    reduced first (as ``_reduced``; Pillow reduces "I" images, not "I;16")."""
    from PIL import Image

    if img.mode not in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        return img
    sixteen = img.mode.startswith("I;16")
    if size and img.width * img.height > LARGE_IMAGE:
        img = _reduced(img.convert("I"), size)
    values = np.asarray(img, dtype=np.float64)
    peak = 65535.0 if sixteen or values.max() > 255 else 255.0
    return Image.fromarray(np.clip(np.round(values * 255.0 / peak), 0, 255).astype(np.uint8), mode="L")


@register_dataset("imagefolder")
class ImageFolderDataModule(ImageDataModule):
    """One subfolder per class, like Keras' ``flow_from_directory``.

    Either ``root/train/<class>/*`` with optional ``root/val/`` and ``root/test/`` trees, or
    ``root/<class>/*`` alone, from which seeded fractions are held out for validation and test.
    Every image is converted to grayscale or RGB and resized to the model's input size once, at load.
    Every file is read before training starts; files that cannot be read (not images, truncated, past
    the pixel limit) are named together in one error, or left out with ``skip_unreadable``.
    """

    def __init__(
        self,
        *,
        root: str | None = None,
        color: Literal["grayscale", "rgb"] = "rgb",
        test_split: float = 0.2,
        skip_unreadable: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.set_test_split(test_split)
        if root is None:
            raise UsageError("data 'imagefolder' needs --data.root DIR (one subfolder per class)")
        self.root, self.color, self.skip_unreadable = Path(root).expanduser(), color, skip_unreadable
        self.unreadable: list[UnreadableImage] = []  # the files load() could not read
        self.files_read = 0

    def prepare_data(self) -> None:
        if not self.root.is_dir():
            raise DataError(f"data folder not found: {self.root}")

    def load(self):
        self.prepare_data()
        self.unreadable, self.files_read = [], 0
        train_dir = self.root / "train" if (self.root / "train").is_dir() else self.root
        folders = class_folders(train_dir)
        empty = [d.name for d in folders if not has_images(d)]
        if empty and len(empty) < len(folders):  # (all empty: "no images found" below says it better)
            print(f"zoo: {train_dir}: no images in {', '.join(empty)}; left out of the classes", file=sys.stderr)
            folders = [d for d in folders if d.name not in empty]
        self.class_names = [d.name for d in folders]
        if not self.class_names:
            raise DataError(f"no class subfolders in {train_dir} (expected {train_dir}/<class>/<image>.png)")
        if len(self.class_names) < 2:
            raise DataError(
                f"one class subfolder in {train_dir} ({self.class_names[0]}); a classifier needs two or more"
            )
        x, y = self._read_tree(train_dir)
        test_x = test_y = None
        if train_dir != self.root and (self.root / "test").is_dir():
            test_x, test_y = self._read_tree(self.root / "test")
        val_x = val_y = None
        if train_dir != self.root and (self.root / "val").is_dir():
            val_x, val_y = self._read_tree(self.root / "val")
        self._refuse_or_skip_unreadable()
        for folder, images in ((train_dir, x), (self.root / "test", test_x), (self.root / "val", val_x)):
            if images is not None and not len(images):
                raise DataError(f"no image in {folder} could be read")
        if val_x is not None:
            if test_x is None:  # the test images come out of train/ here, never out of val/
                x, y, test_x, test_y = self.split_off_test(x, y)
            # An explicit validation tree: append it and make the split take exactly those images.
            x, y = torch.cat([x, val_x]), torch.cat([y, val_y])
            self.val_split, self.val_mode = len(val_x) / len(x), "last"
        return x, y, test_x, test_y

    def _read_tree(self, folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
        """The images of ``folder/<class>/`` that can be read; the others go to ``self.unreadable``."""
        from tqdm import tqdm

        files = []
        for label, cls in enumerate(self.class_names):
            class_dir = folder / cls
            if class_dir.is_dir():
                files += [(p, label) for p in sorted(class_dir.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]
        unknown = sorted(d.name for d in class_folders(folder) if d.name not in self.class_names and has_images(d))
        if unknown:
            raise DataError(f"{folder} has classes not in the training tree: {', '.join(unknown)}")
        if not files:
            raise DataError(
                f"no images found in {folder} (expected {folder}/<class>/<image> with one of "
                f"{', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        size, channels = self.image_size or 32, 1 if self.color == "grayscale" else 3
        x = torch.empty(len(files), channels, size, size, dtype=torch.uint8)
        read = torch.ones(len(files), dtype=torch.bool)
        for i, (path, _) in enumerate(tqdm(files, desc=f"reading {folder.name}", leave=False, disable=None)):
            try:
                x[i] = read_image(path, channels, size)
            except UnreadableImage as err:
                self.unreadable.append(err)
                read[i] = False
        self.files_read += len(files)
        y = torch.tensor([label for _, label in files], dtype=torch.long)
        return (x, y) if read.all() else (x[read], y[read])

    def _refuse_or_skip_unreadable(self) -> None:
        """Every unreadable file named in one line: an error, or with ``skip_unreadable`` a note on stderr."""
        bad = self.unreadable
        if not bad:
            return
        if len(bad) == 1 and not self.skip_unreadable:
            raise DataError(
                f"cannot read image {bad[0].path}: {bad[0].reason}; fix or remove it, or pass "
                "--data.skip_unreadable true to leave it out"
            )
        shown = 5
        names = ", ".join(f"{err.path.relative_to(self.root)} ({err.reason})" for err in bad[:shown])
        names += f" and {len(bad) - shown} more" if len(bad) > shown else ""
        count = f"{len(bad)} of {self.files_read} images in {self.root}"
        if not self.skip_unreadable:
            raise DataError(
                f"cannot read {count}: {names}; fix or remove them, or pass --data.skip_unreadable true to "
                "leave them out"
            )
        print(f"zoo: skipped {count}, unreadable (data.skip_unreadable): {names}", file=sys.stderr)
