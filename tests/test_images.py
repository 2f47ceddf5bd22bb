"""Images as people hold them and as hostile files come: arrays of every layout read as the batch they
are, image bombs refused as unreadable files (named, skipped where zoo skips, memory bounded), and an
image folder's unreadable files named together before training, or skipped."""

import json
import struct
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

import zoo
from conftest import FASHION_MNIST, require, run_python
from zoo.data.images import image_batch, read_image
from zoo.errors import DataError, UsageError
from zoo.registry import DATASETS


def one_colour_png(path, width, height, colour=(0,), depth=8):
    """A PNG of one colour (grey: one value, RGB: three), written a row at a time: a 20000x20000 one is
    0.4 MB on disk and never in memory here."""
    sample = ">H" if depth == 16 else "B"
    row = b"\0" + b"".join(struct.pack(sample, c) for c in colour) * width  # (filter byte 0, then the pixels)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row * 50) for _ in range(height // 50))
    idat += compressor.compress(row * (height % 50)) + compressor.flush()

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, depth, {1: 0, 3: 2}[len(colour)], 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


# --- arrays: a batch stays a batch ----------------------------------------------------------------


def numbered(shape):
    """uint8 images of ``shape`` (N first) whose pixels all hold their own index times 10."""
    return np.broadcast_to(
        (np.arange(shape[0]) * 10).astype(np.uint8).reshape(-1, *[1] * (len(shape) - 1)), shape
    ).copy()


@pytest.mark.parametrize(
    "shape, channels, n",
    [
        ((6, 28, 28), 1, 6),  # Keras' fashion_mnist.load_data(): (N, H, W)
        ((6, 28, 28, 1), 1, 6),
        ((6, 1, 28, 28), 1, 6),
        ((6, 20, 20), 3, 6),  # grey images for a colour model
        ((6, 20, 20, 3), 3, 6),
        ((6, 3, 20, 20), 3, 6),
        ((3, 28, 28), 1, 3),  # a grey model: (N, H, W), whatever N is
        ((2, 28, 28), 3, 2),
    ],
)
def test_a_batch_of_arrays_is_read_as_that_many_images_each_its_own(shape, channels, n):
    x = numbered(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of these shapes is ambiguous
        batch = image_batch(x, channels, 28)
    assert batch.shape == (n, channels, 28, 28)
    # image i is i*10 everywhere: nothing mixed between images (or read across as channels)
    assert torch.allclose(batch.mean(dim=(1, 2, 3)) * 255, torch.arange(n) * 10.0, atol=1e-3)
    assert image_batch(torch.from_numpy(x), channels, 28).shape == batch.shape  # torch tensors alike


def test_one_image_in_any_layout_is_one_image():
    assert image_batch(np.zeros((28, 28), np.uint8), 1, 28).shape == (1, 1, 28, 28)
    assert image_batch(np.zeros((40, 30, 3), np.uint8), 1, 28).shape == (1, 1, 28, 28)  # np.array(photo)
    assert image_batch(np.zeros((40, 30, 1), np.uint8), 3, 28).shape == (1, 3, 28, 28)
    assert image_batch([np.zeros((28, 28)), np.zeros((40, 40, 3))], 1, 28).shape == (2, 1, 28, 28)


def test_a_three_by_h_by_w_array_for_a_colour_model_is_one_image_with_a_warning_that_says_how_to_be_explicit():
    x = np.zeros((3, 28, 28), dtype=np.uint8)
    x[0] = 255  # red
    with pytest.warns(UserWarning, match=r"one colour image \(C, H, W\); pass x\[None\].*x\[:, None\] for 3 grey"):
        batch = image_batch(x, 3, 28)
    assert batch.shape == (1, 3, 28, 28) and batch[0, 0].min() == 1 and batch[0, 1:].max() == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert image_batch(x[None], 3, 28).shape == (1, 3, 28, 28)
        grey = image_batch(x[:, None], 3, 28)
    assert grey.shape == (3, 3, 28, 28) and grey[0].min() == 1 and grey[1:].max() == 0


def test_a_grey_and_alpha_picture_reads_as_its_grey():
    """Pillow's LA arrays are (H, W, 2): once read across as 28 channels of 2-pixel rows."""
    grey = np.zeros((28, 28), dtype=np.uint8)
    grey[5:20, 8:14] = 200
    picture = Image.fromarray(grey).convert("LA")  # (fully opaque)
    assert np.array_equal((image_batch(picture, 1, 28)[0, 0] * 255).round().to(torch.uint8).numpy(), grey)


def test_images_of_other_channel_counts_are_refused_in_one_line():
    with pytest.raises(UsageError, match="images of 7 channels .* zoo reads 1 .* 4 \\(RGBA\\)"):
        image_batch(np.zeros((2, 7, 28, 28), np.uint8), 1, 28)
    with pytest.raises(UsageError, match="got shape \\(2, 2, 2, 28, 28\\)"):
        image_batch(np.zeros((2, 2, 2, 28, 28), np.uint8), 1, 28)


def test_the_shipped_lenet_answers_every_fashion_mnist_test_image_given_as_keras_loads_them():
    """(N, 28, 28) uint8, exactly fashion_mnist.load_data()'s test images: N answers at the card's accuracy.
    The tolerance, 5 images in 10,000, is the one the card's own check uses: the same images through the
    same weights, where float rounding on another CPU may flip a near tie or two."""
    from zoo.data.idx import read_idx

    require(FASHION_MNIST, "apt-get install -y dataset-fashion-mnist")
    x = np.array(read_idx(FASHION_MNIST / "t10k-images-idx3-ubyte.gz"))
    y = np.array(read_idx(FASHION_MNIST / "t10k-labels-idx1-ubyte.gz"), dtype=np.int64)
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    task = zoo.load_pretrained("lenet:fashion-mnist")
    predicted = task.predict(x)
    assert len(predicted) == len(x)
    accuracy = np.mean([task.class_names.index(c) == label for c, label in zip(predicted, y)])
    assert accuracy == pytest.approx(zoo.weight_card("lenet:fashion-mnist")["metrics"]["test_acc"], abs=5e-4)
    assert task.predict_proba(x[:100]).shape == (100, 10)
    assert len(task.predict_topk(x[:100], 3)) == 100


# --- image bombs ------------------------------------------------------------------------------------


def test_a_decompression_bomb_is_an_unreadable_file_named_in_one_line(tmp_path):
    bomb = one_colour_png(tmp_path / "bomb.png", 20000, 20000)
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(DataError, match=r"cannot read image .*bomb.png: 400,000,000 pixels, past the limit PIL"):
        read_image(bomb, 1, 28)
    task = zoo.load_pretrained("lenet:fashion-mnist")
    with pytest.raises(DataError, match="bomb.png"):
        task.predict([bomb])


@pytest.mark.slow
def test_images_past_the_pixel_limit_are_refused_and_large_ones_read_reduced_in_bounded_memory(tmp_path):
    """In a fresh process, the peak resident memory past what importing zoo took: a 13000x13000 PNG (0.5 MB,
    under Pillow's own refusal, which is twice its limit) took 6 GB decoded as floats, a 6000x6000 one 1 GB;
    now the first is refused before decoding, the second decoded once (144 MB in Pillow) and shrunk."""
    one_colour_png(tmp_path / "bomb.png", 20000, 20000)
    one_colour_png(tmp_path / "big.png", 13000, 13000, (200, 30, 30))
    one_colour_png(tmp_path / "large.png", 6000, 6000, (200, 30, 30))
    one_colour_png(tmp_path / "deep.png", 5000, 5000, (32768,), depth=16)
    Image.new("RGB", (6000, 6000), (200, 30, 30)).save(tmp_path / "large.jpg", quality=95)
    script = """
import json, resource, sys, warnings
warnings.simplefilter("error")  # (Pillow's DecompressionBombWarning included)
from zoo.data.images import read_image
from zoo.errors import DataError
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
base, out = peak(), {}
for name in sys.argv[1:]:
    try:
        out[name] = read_image(name, 3, 28).float().mean(dim=(1, 2)).round().tolist()
    except DataError as err:
        out[name] = str(err)
out["peak_mb"] = peak() - base
print(json.dumps(out))
"""
    names = ["bomb.png", "big.png", "large.png", "deep.png", "large.jpg"]
    result = run_python(["-c", script, *names], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    limit = "past the limit PIL.Image.MAX_IMAGE_PIXELS = 89,478,485"
    assert out["bomb.png"] == f"cannot read image bomb.png: 400,000,000 pixels, {limit}"
    assert out["big.png"] == f"cannot read image big.png: 13000x13000 is 169,000,000 pixels, {limit}"
    assert out["large.png"] == out["large.jpg"] == [200, 30, 30]  # (JPEG keeps this flat colour exactly)
    assert out["deep.png"] == [128, 128, 128]  # 16-bit 32768 of 65535
    # 6000x6000 RGB is 144 MB in Pillow (4 bytes a pixel); the float conversion at full size took 1 GB more
    assert out["peak_mb"] < 400, out


def test_a_large_image_read_reduced_keeps_its_geometry(tmp_path):
    """A 3000x2000 picture (past LARGE_IMAGE, so shrunk before the resize), white on its left half: the
    28x28 result is white left of the middle, black right of it, and the two middle columns share one
    column's worth of white, as an exact halving would give (a shrink that dropped or squeezed edge pixels
    moves the edge off the middle)."""
    picture = np.zeros((2000, 3000), dtype=np.uint8)
    picture[:, :1500] = 255
    Image.fromarray(picture).save(tmp_path / "half.png")
    x = read_image(tmp_path / "half.png", 1, 28)[0].int()
    assert (x[:, :13] == 255).all() and (x[:, 15:] == 0).all()
    assert (x[:, 13] + x[:, 14] - 255).abs().max() <= 1 and (x == x[0]).all()


def test_zoo_predict_on_a_folder_skips_a_bomb_and_predicts_the_good_images(tmp_path, capsys):
    from zoo.predict import main as predict

    for i in range(3):
        Image.new("L", (28, 28), 80 * i).save(tmp_path / f"good{i}.png")
    one_colour_png(tmp_path / "bomb.png", 20000, 20000)
    assert predict(["lenet:fashion-mnist", str(tmp_path), "--workers", "0"]) == 0
    out, err = capsys.readouterr()
    rows = out.splitlines()[1:]
    assert sorted(r.split(",")[0] for r in rows) == [str(tmp_path / f"good{i}.png") for i in range(3)]
    assert f"skipped {tmp_path / 'bomb.png'}: cannot read image" in err and "3 images, 1 unreadable" in err


def test_zoo_show_names_a_bomb_in_one_line(tmp_path, capsys):
    from zoo.show import main as show

    bomb = one_colour_png(tmp_path / "bomb.png", 20000, 20000)
    assert show(["lenet:fashion-mnist", str(bomb), "--out", str(tmp_path / "shown")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot read image {bomb}: 400,000,000 pixels" in err


# --- an image folder's unreadable files ------------------------------------------------------------


def image_folder(root, per_class=4):
    for c, name in enumerate(("cat", "dog")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.new("RGB", (20, 16), (200 * c, 10 * i, 50)).save(root / name / f"{i}.png")
    return root


def broken_files(root, n):
    """``n`` files that are not images, a truncated PNG and a bomb among them, spread over both classes."""
    names = []
    for i in range(n):
        path = root / ("cat", "dog")[i % 2] / f"broken{i}.png"
        if i == 0:
            one_colour_png(path, 20000, 20000)
        elif i == 1:
            path.write_bytes((root / "cat" / "0.png").read_bytes()[:60])
        else:
            path.write_bytes(b"not an image")
        names.append(f"{path.parent.name}/{path.name}")
    return names


def test_every_unreadable_file_of_an_image_folder_is_named_in_one_error(tmp_path):
    root = image_folder(tmp_path)
    names = broken_files(root, 3)
    with pytest.raises(DataError) as caught:
        DATASETS.get("imagefolder")(root=str(root)).setup("fit")
    message = str(caught.value)
    assert message.startswith(f"cannot read 3 of 11 images in {root}: ") and "\n" not in message
    assert all(name in message for name in names), message
    assert "400,000,000 pixels" in message and "--data.skip_unreadable true" in message


def test_many_unreadable_files_are_counted_and_the_first_five_named(tmp_path):
    root = image_folder(tmp_path)
    names = broken_files(root, 8)
    with pytest.raises(DataError, match=r"cannot read 8 of 16 images in .* and 3 more; fix or remove them") as caught:
        DATASETS.get("imagefolder")(root=str(root)).setup("fit")
    assert sum(name in str(caught.value) for name in names) == 5


def test_skip_unreadable_leaves_them_out_in_one_line(tmp_path, capsys):
    for split, n in (("train", 6), ("val", 2), ("test", 2)):
        image_folder(tmp_path / split, per_class=n)
    broken_files(tmp_path / "train", 2)
    broken_files(tmp_path / "val", 1)
    dm = DATASETS.get("imagefolder")(root=str(tmp_path), image_size=16, skip_unreadable=True)
    dm.setup("fit")
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (12, 4, 4)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"skipped 3 of 23 images in {tmp_path}, unreadable" in err
    assert "train/cat/broken0.png" in err and "val/cat/broken0.png" in err


def test_skip_unreadable_with_nothing_readable_says_so(tmp_path):
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=f"no image in {tmp_path} could be read"):
        DATASETS.get("imagefolder")(root=str(tmp_path), skip_unreadable=True).setup("fit")


@pytest.mark.slow
def test_training_on_an_image_folder_with_broken_files_names_them_or_skips_them(tmp_path, cli):
    root = image_folder(tmp_path / "photos", per_class=8)
    names = broken_files(root, 2)
    tiny = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--data.batch_size", "4"]
    args = ["lenet", "--data.name", "imagefolder", "--data.root", str(root), "--data.image_size", "28", *tiny]
    code, _, err = cli(*args, "--trainer.default_root_dir", str(tmp_path / "runs"))
    assert code == 1 and err.count("\n") == 1 and all(name in err for name in names), err
    code, out, err = cli(*args, "--data.skip_unreadable", "true", "--trainer.default_root_dir", str(tmp_path / "runs"))
    assert code == 0, err
    assert f"zoo: skipped 2 of 18 images in {root}, unreadable (data.skip_unreadable)" in err
