"""Data modules: idx files, image folders, seeded splits and the batch order."""

import gzip

import numpy as np
import pytest
import torch
from PIL import Image

import zoo
from conftest import FASHION_MNIST, require
from zoo.data import DATASETS, BatchOrder
from zoo.data.idx import read_idx, write_idx
from zoo.errors import DataError, UsageError


def write_fake_mnist(folder, n_train=50, n_test=20, compress=True, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if compress else ""
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8) % 10,
    }
    for name, array in arrays.items():
        write_idx(folder / (name + ext), array)
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_idx_round_trip(tmp_path, compress):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array, compress=compress)
    assert path.read_bytes()[:2] == (b"\x1f\x8b" if compress else b"\x00\x00")
    np.testing.assert_array_equal(read_idx(path), array)


def test_idx_header_is_the_documented_one(tmp_path):
    write_idx(tmp_path / "x", np.zeros((2, 5), dtype=np.uint8))
    raw = (tmp_path / "x").read_bytes()
    assert raw[:4] == bytes([0, 0, 8, 2]) and raw[4:12] == (2).to_bytes(4, "big") + (5).to_bytes(4, "big")
    assert len(raw) == 12 + 10


def test_truncated_idx_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, np.zeros((10, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte is truncated: shape \(10, 28, 28\)"):
        read_idx(path)


def test_corrupt_gzip_and_bad_header_are_refused(tmp_path):
    gz = tmp_path / "bad.gz"
    gz.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"12345")[:-8])
    with pytest.raises(DataError, match="cannot read idx file"):
        read_idx(gz)
    junk = tmp_path / "junk"
    junk.write_bytes(b"hello world")
    with pytest.raises(DataError, match="not an idx file"):
        read_idx(junk)


@pytest.mark.parametrize("compress", [True, False])
def test_fashion_mnist_module_reads_a_local_folder(tmp_path, compress):
    arrays = write_fake_mnist(tmp_path / "fm", compress=compress)
    dm = DATASETS.get("fashion-mnist")(root=str(tmp_path / "fm"), download=False, val_split=0.2, image_size=32)
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_set) == 40 and len(dm.val_set) == 10 and len(dm.test_set) == 20
    assert dm.train_set.tensors[0].shape[1:] == (1, 32, 32) and dm.train_set.tensors[0].dtype == torch.uint8
    np.testing.assert_array_equal(dm.test_set.tensors[1].numpy(), arrays["t10k-labels-idx1-ubyte"])
    info = dm.describe()
    assert info["num_classes"] == 10 and info["class_names"][0] == "T-shirt/top" and info["in_features"] == 1024


def test_missing_files_without_download_say_what_to_do(tmp_path):
    dm = DATASETS.get("mnist")(root=str(tmp_path), download=False)
    with pytest.raises(DataError) as err:
        dm.prepare_data()
    assert "idx files not found" in str(err.value) and "--data.root" in str(err.value) and "digits" in str(err.value)


def test_missing_data_folder_is_named(tmp_path):
    dm = DATASETS.get("fashion-mnist")(root=str(tmp_path / "nope"))
    with pytest.raises(DataError, match="data folder not found: .*nope"):
        dm.prepare_data()


def test_truncated_real_format_file_fails_at_setup(tmp_path):
    write_fake_mnist(tmp_path, compress=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])
    dm = DATASETS.get("fashion-mnist")(root=str(tmp_path), download=False)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte is truncated"):
        dm.setup("fit")


@pytest.mark.slow
def test_real_fashion_mnist_files():
    require(FASHION_MNIST, "apt-get install -y dataset-fashion-mnist")
    dm = DATASETS.get("fashion-mnist")(root=str(FASHION_MNIST), download=False, val_split=0.1)
    dm.setup("fit")
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (54000, 6000, 10000)
    labels = dm.test_set.tensors[1]
    assert torch.bincount(labels).tolist() == [1000] * 10  # the test set is balanced
    assert 0.25 < dm.mean[0] < 0.32 and 0.33 < dm.std[0] < 0.37  # Fashion-MNIST's known statistics


def test_digits_splits_are_disjoint_seeded_and_complete():
    def split(seed):
        dm = DATASETS.get("digits")(split_seed=seed, val_split=0.25, test_split=0.2)
        dm.setup("fit")
        return [tuple(map(tuple, s.tensors[0].flatten(1).tolist())) for s in (dm.train_set, dm.val_set, dm.test_set)]

    train, val, test = split(0)
    assert len(train) + len(val) + len(test) == 1797
    assert abs(len(test) - 0.2 * 1797) <= 1 and abs(len(val) - 0.25 * (1797 - len(test))) <= 1
    assert split(0) == [train, val, test]  # same seed, same split
    assert split(1)[1] != val  # another seed, another split


def test_keras_last_fraction_validation_takes_the_tail_in_order():
    from zoo.data.base import seeded_split

    keep, held = seeded_split(10, 0.3, seed=5, mode="last")
    assert keep.tolist() == list(range(7)) and held.tolist() == [7, 8, 9]
    keep, held = seeded_split(10, 0.3, seed=5, mode="random")
    assert sorted(keep.tolist() + held.tolist()) == list(range(10)) and held.tolist() != [7, 8, 9]


@pytest.mark.parametrize("bad", [dict(batch_size=0), dict(val_split=1.0), dict(test_split=1.5)])
def test_impossible_values_are_refused(bad):
    with pytest.raises(UsageError):
        DATASETS.get("digits")(**bad)


def test_batch_order_visits_every_sample_once_per_epoch_in_a_seeded_order():
    order = BatchOrder(103, 10, shuffle=True, seed=7)
    epoch0 = torch.cat(list(order))
    assert sorted(epoch0.tolist()) == list(range(103)) and len(list(order)) == len(order) == 11
    assert torch.equal(torch.cat(list(BatchOrder(103, 10, shuffle=True, seed=7))), epoch0)
    order.set_epoch(1)
    assert not torch.equal(torch.cat(list(order)), epoch0)


def test_batch_order_drop_last_and_natural_order():
    assert [len(b) for b in BatchOrder(25, 10, shuffle=True, drop_last=True)] == [10, 10]
    assert [len(b) for b in BatchOrder(25, 10, shuffle=True, drop_last=False)] == [10, 10, 5]
    assert torch.equal(torch.cat(list(BatchOrder(25, 10, shuffle=False))), torch.arange(25))
    # a last training batch of ONE sample is left out (batch norm cannot train on it), another each epoch
    order = BatchOrder(21, 10, shuffle=True, drop_last=False)
    left_out = set()
    for epoch in range(4):
        order.set_epoch(epoch)
        batches = list(order)
        assert [len(b) for b in batches] == [10, 10]
        left_out |= set(range(21)) - set(torch.cat(batches).tolist())
    assert len(left_out) > 1
    assert [len(b) for b in BatchOrder(21, 10, shuffle=False)] == [10, 10, 1]  # evaluation sees every sample


def test_batch_order_shards_across_processes_without_overlap():
    shards = [torch.cat(list(BatchOrder(101, 8, shuffle=True, seed=3, rank=r, world_size=2))) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 50  # equal steps per process
    assert not set(shards[0].tolist()) & set(shards[1].tolist())
    evals = [torch.cat(list(BatchOrder(101, 8, shuffle=False, rank=r, world_size=2))) for r in range(2)]
    assert sorted(torch.cat(evals).tolist()) == list(range(101))  # evaluation sees every sample once


def make_image_tree(root, classes=("cat", "dog"), per_class=6, size=(20, 16), mode="RGB"):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            color = (200 * c, 10 * i, 50) if mode == "RGB" else 100 * c + i
            Image.new(mode, size, color).save(root / name / f"{i}.png")


def test_image_folder_single_tree_is_split_by_fraction(tmp_path):
    make_image_tree(tmp_path, per_class=10)
    dm = DATASETS.get("imagefolder")(
        root=str(tmp_path), image_size=28, color="grayscale", test_split=0.2, val_split=0.25
    )
    dm.setup("fit")
    assert dm.class_names == ["cat", "dog"]
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (12, 4, 4)
    assert dm.train_set.tensors[0].shape[1:] == (1, 28, 28)


def test_image_folder_train_val_test_trees(tmp_path):
    for split, n in (("train", 5), ("val", 2), ("test", 3)):
        make_image_tree(tmp_path / split, per_class=n)
    dm = DATASETS.get("imagefolder")(root=str(tmp_path), image_size=32, color="rgb")
    dm.setup("fit")
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (10, 4, 6)
    x, y = dm.val_set.tensors
    assert x.shape[1:] == (3, 32, 32) and sorted(y.tolist()) == [0, 0, 1, 1]
    # the "dog" class was drawn with red 200: it survives loading and resizing
    assert x[y == 1][:, 0].float().mean() > 190


def test_empty_image_folder_is_refused(tmp_path):
    (tmp_path / "cat").mkdir()
    (tmp_path / "dog").mkdir()
    dm = DATASETS.get("imagefolder")(root=str(tmp_path))
    with pytest.raises(DataError, match="no images found in"):
        dm.setup("fit")
    with pytest.raises(DataError, match="no class subfolders"):
        DATASETS.get("imagefolder")(root=str(tmp_path / "cat")).setup("fit")
    make_image_tree(tmp_path / "one", classes=("cat",))
    with pytest.raises(DataError, match="one class subfolder"):
        DATASETS.get("imagefolder")(root=str(tmp_path / "one")).setup("fit")


def test_unreadable_image_is_named(tmp_path):
    make_image_tree(tmp_path)
    (tmp_path / "cat" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot read image .*broken.png"):
        DATASETS.get("imagefolder")(root=str(tmp_path)).setup("fit")


def test_augmentation_moves_pixels_only_while_training():
    from zoo.data.images import random_affine

    torch.manual_seed(0)
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1.0
    shifted = random_affine(x, shift=0.2, rotate=0.0, scale=0.0, hflip=False)
    assert shifted.shape == x.shape
    assert not torch.allclose(shifted, x)
    same = random_affine(x, shift=0.0, rotate=0.0, scale=0.0, hflip=False)
    assert torch.allclose(same, x, atol=1e-5)  # the identity transform leaves images alone
    flipped = random_affine(x[:, :, :, :].roll(5, dims=3), shift=0.0, rotate=0.0, scale=0.0, hflip=True)
    assert torch.allclose(flipped.sum(), x.sum(), rtol=1e-3)  # mirroring keeps every pixel


class PlainBatches:
    """Lists of sample indices from a BatchOrder; ``.sampler`` is where Lightning calls set_epoch."""

    def __init__(self, order):
        self.sampler = order

    def __iter__(self):
        return (batch.tolist() for batch in self.sampler)

    def __len__(self):
        return len(self.sampler)


@pytest.mark.slow
def test_fast_path_trains_exactly_like_a_per_sample_dataloader(tmp_path):
    """Whole-batch indexing is only a faster way to fetch the same batches: LeNet trained two epochs
    through it ends with the same weights as through DataLoader(TensorDataset) fetching sample by
    sample and collating, over the same seeded batch order."""
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    class PerSample(L.Callback):
        """Swaps the data module's loader for a per-sample one once the data is set up."""

        def setup(self, trainer, pl_module, stage):
            datamodule = trainer.datamodule
            fast = datamodule.train_dataloader

            def per_sample():
                batches = PlainBatches(fast().sampler)  # the same seeded BatchOrder
                # (its own generator, as zoo's loaders: a plain one would draw from the global random
                # stream at each epoch's start and change the dropout masks that follow)
                return DataLoader(
                    TensorDataset(*datamodule.train_set.tensors), batch_sampler=batches, generator=torch.Generator()
                )

            datamodule.train_dataloader = per_sample

    class Weights(L.Callback):
        def on_train_start(self, trainer, pl_module):
            self.before = {k: v.clone() for k, v in pl_module.model.state_dict().items()}

        def on_train_end(self, trainer, pl_module):
            self.after = {k: v.clone() for k, v in pl_module.model.state_dict().items()}

    def trained(plain: bool) -> dict:
        weights = Weights()
        zoo.fit(
            "lenet",
            overrides=[
                "--trainer.max_epochs",
                "2",
                "--trainer.limit_train_batches",
                "6",
                "--data.batch_size",
                "16",
                "--data.augment",
                "false",
                "--trainer.default_root_dir",
                str(tmp_path / str(plain)),
                "--trainer.enable_progress_bar",
                "false",
                # On the CPU, where the same arithmetic repeats bit for bit (a GPU sums convolution
                # gradients in a varying order, so two identical runs there differ in the last bits).
                "--trainer.accelerator",
                "cpu",
            ],
            callbacks=[PerSample(), weights] if plain else [weights],
            quiet=True,
        )
        assert not torch.equal(weights.before["features.0.weight"], weights.after["features.0.weight"])  # it trained
        return weights.after

    fast, plain = trained(False), trained(True)
    assert fast.keys() == plain.keys()
    for name in fast:
        assert torch.equal(fast[name], plain[name]), name


def test_image_folder_val_tree_without_test_tree_keeps_val_out_of_training(tmp_path):
    """train/ and val/ only: the test images come out of train/, and the validation set is exactly
    val/ (told apart here by brightness: val/ images are 240 or 250 grey, train/ ones 100-107 and below)."""
    make_image_tree(tmp_path / "train", per_class=8, mode="L")
    for c, name in enumerate(("cat", "dog")):
        (tmp_path / "val" / name).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (20, 16), 240 + 10 * c).save(tmp_path / "val" / name / f"{i}.png")
    dm = DATASETS.get("imagefolder")(root=str(tmp_path), image_size=16, color="grayscale", test_split=0.25)
    dm.setup("fit")
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (12, 6, 4)
    val_x, val_y = dm.val_set.tensors
    assert sorted(val_y.tolist()) == [0, 0, 0, 1, 1, 1] and bool((val_x >= 235).all())
    assert all(bool((s.tensors[0] < 235).all()) for s in (dm.train_set, dm.test_set))


def test_an_empty_class_folder_is_not_a_class(tmp_path, capsys):
    make_image_tree(tmp_path, per_class=6)
    (tmp_path / "zebra").mkdir()
    dm = DATASETS.get("imagefolder")(root=str(tmp_path), image_size=16, color="grayscale")
    dm.setup("fit")
    assert dm.class_names == ["cat", "dog"] and dm.describe()["num_classes"] == 2
    assert "no images in zebra; left out of the classes" in capsys.readouterr().err


def test_sixteen_bit_images_keep_their_brightness(tmp_path):
    """Pillow's own conversion clips a 16-bit image's values at 255 (nearly all white); zoo scales them."""
    for name, level in (("dark", 10_000), ("light", 50_000)):
        (tmp_path / name).mkdir()
        for i in range(4):
            Image.fromarray(np.full((12, 12), level + i, dtype=np.uint16)).save(tmp_path / name / f"{i}.png")
    assert Image.open(tmp_path / "dark" / "0.png").mode.startswith("I")  # (Pillow reads them 16-bit)
    dm = DATASETS.get("imagefolder")(
        root=str(tmp_path), image_size=12, color="grayscale", test_split=0.25, val_split=0.2
    )
    dm.setup("fit")
    x, y = (torch.cat([s.tensors[i] for s in (dm.train_set, dm.val_set, dm.test_set)]) for i in (0, 1))
    means = [x[y == c].float().mean().item() for c in range(2)]
    assert means == pytest.approx([round(10_001.5 * 255 / 65535), round(50_001.5 * 255 / 65535)], abs=1.0)
