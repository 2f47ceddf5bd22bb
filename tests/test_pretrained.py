"""The weights zoo ships: every card's figure holds on real held-out data, loading is checked and
weights-only, torch.hub finds them, and predict takes images the way people have them."""

import hashlib
import json

import numpy as np
import pytest
import torch
from PIL import Image

import zoo
from conftest import FASHION_MNIST, ROOT, require
from zoo.errors import DataError, UsageError
from zoo.pretrained import CARDS_FILE, WEIGHTS_DIR

SHIPPED = ["lenet:fashion-mnist", "lstm:tinyshakespeare", "mlp:fashion-mnist", "word2vec:wikipedia-sample"]


def fashion_test_set():
    from zoo.data.idx import read_idx

    require(FASHION_MNIST, "apt-get install -y dataset-fashion-mnist")
    x = torch.from_numpy(np.array(read_idx(FASHION_MNIST / "t10k-images-idx3-ubyte.gz"))).unsqueeze(1)
    y = torch.from_numpy(np.array(read_idx(FASHION_MNIST / "t10k-labels-idx1-ubyte.gz"), dtype=np.int64))
    return x, y


def test_the_shipped_weights_are_listed_by_model_and_fit_the_wheels_budget():
    assert zoo.list_weights() == SHIPPED
    assert zoo.list_weights("lenet") == ["fashion-mnist"] and zoo.list_weights("nope") == []
    sizes = {
        card["file"]: (WEIGHTS_DIR / card["file"]).stat().st_size
        for card in json.loads(CARDS_FILE.read_text()).values()
    }
    assert sum(sizes.values()) <= 15 * 2**20, sizes  # all together at most 15 MB


@pytest.mark.parametrize("name", SHIPPED)
def test_every_card_says_what_it_is_and_matches_its_file(name):
    card = zoo.weight_card(name)
    for field in ("data", "preprocessing", "metrics", "params", "file_size", "sha256", "zoo_version", "command"):
        assert card[field], field
    assert {"name", "licence", "source", "held_out"} <= set(card["data"])
    assert card["command"].startswith(f"python -m zoo.train {card['model']}")
    file = WEIGHTS_DIR / card["file"]
    assert hashlib.sha256(file.read_bytes()).hexdigest() == card["sha256"] and file.stat().st_size == card["file_size"]
    task = zoo.load_pretrained(name)
    assert sum(p.numel() for p in task.model.parameters()) == card["params"] and not task.training
    assert ("classes" in card) == (task.name == "classification")


@pytest.mark.parametrize("name", ["lenet:fashion-mnist", "mlp:fashion-mnist"])
def test_a_classifiers_card_accuracy_holds_on_the_fashion_mnist_test_set(name):
    x, y = fashion_test_set()
    task = zoo.load_pretrained(name)
    accuracy = (torch.tensor([task.class_names.index(c) for c in task.predict(x)]) == y).float().mean().item()
    assert accuracy == pytest.approx(zoo.weight_card(name)["metrics"]["test_acc"], abs=5e-4)
    assert accuracy >= 0.89


def test_the_lstms_card_figure_holds_on_the_last_tenth_of_tinyshakespeare():
    from zoo.data.text import read_text, shipped_text

    text = read_text(shipped_text("tinyshakespeare"))
    task = zoo.load_pretrained("lstm:tinyshakespeare")
    nats = task.nats_per_token(text[int(len(text) * 0.9) :])
    assert nats == pytest.approx(
        zoo.weight_card("lstm:tinyshakespeare")["metrics"]["nats_per_char_last_10pct"], abs=5e-4
    )
    assert nats < 1.55
    sample = task.generate("ROMEO:", 200, temperature=0.8, generator=torch.Generator().manual_seed(0))
    assert sample.startswith("ROMEO:") and len(sample) == 206


def test_the_word_vectors_card_figures_hold_on_gensims_benchmarks():
    task = zoo.load_pretrained("word2vec:wikipedia-sample")
    card = zoo.weight_card("word2vec:wikipedia-sample")
    scores = task.similarity_scores(analogies=True)
    for name in ("wordsim353", "simlex999", "analogy"):
        assert scores[name] == pytest.approx(card["metrics"][name], abs=5e-4), name
    reference = next(iter(card["reference"].values()))
    assert scores["wordsim353"] > reference["wordsim353"] - 0.05  # beside gensim on the same corpus and settings
    # vectors that mean something: music's nearest words include music of some kind
    near = {w for w, _ in task.keyed_vectors().most_similar("music", topn=10)}
    assert near & {"folk", "pop", "jazz", "rock", "songs", "song", "genres", "dance", "musical", "opera"}, near


def test_get_model_with_weights_is_the_trained_module_and_unknown_names_list_the_known(tmp_path):
    x, _ = fashion_test_set()
    task = zoo.load_pretrained("lenet:fashion-mnist")
    net = zoo.get_model("lenet", weights="fashion-mnist").eval()
    card = zoo.weight_card("lenet:fashion-mnist")
    mean, std = torch.tensor(card["input_mean"]).view(1, -1, 1, 1), torch.tensor(card["input_std"]).view(1, -1, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(net((x[:8].float() / 255 - mean) / std), task(x[:8]))
    with pytest.raises(UsageError, match=r"unknown weights 'lenet:imagenet'.*\(known: lenet:fashion-mnist\)"):
        zoo.get_model("lenet", weights="imagenet")
    with pytest.raises(UsageError, match="takes no other arguments"):
        zoo.get_model("lenet", weights="fashion-mnist", num_classes=3)


def test_a_weight_file_that_does_not_match_its_card_is_refused(monkeypatch):
    from zoo import pretrained

    card = dict(pretrained.cards()["lenet:fashion-mnist"], sha256="0" * 64)
    monkeypatch.setattr(pretrained, "cards", lambda: {"lenet:fashion-mnist": card})
    with pytest.raises(DataError, match=r"lenet-fashion-mnist.ckpt does not match its model card .*reinstall zoo"):
        zoo.load_pretrained("lenet:fashion-mnist")


def test_torch_hub_loads_the_shipped_weights_from_a_checkout():
    net = torch.hub.load(str(ROOT), "lenet", source="local", weights="fashion-mnist", trust_repo=True)
    reference = zoo.get_model("lenet", weights="fashion-mnist")
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), reference.state_dict().values()))
    untrained = torch.hub.load(str(ROOT), "mlp", source="local", hidden=[4], trust_repo=True)
    assert [m.out_features for m in untrained.dense_layers()] == [4, 2]


def test_predict_takes_images_the_way_people_have_them(tmp_path):
    """PIL images, files, numpy arrays and tensors, channels first or last, alone or in lists of mixed
    sizes and modes: the same picture gets the same answer."""
    x, y = fashion_test_set()
    task = zoo.load_pretrained("lenet:fashion-mnist")
    images = x[:6, 0].numpy()  # (6, 28, 28) uint8
    expected = task.predict(torch.from_numpy(images).unsqueeze(1))
    pil = [Image.fromarray(img) for img in images]
    pil[0].save(tmp_path / "a.png")
    pil[1].convert("RGB").resize((56, 56), Image.NEAREST).save(tmp_path / "b.png")
    pil[2].convert("RGBA").save(tmp_path / "c.png")
    Image.fromarray(images[3].astype(np.uint16) * 257).save(tmp_path / "d.png")  # 16-bit
    assert task.predict(pil) == expected
    assert (
        task.predict([tmp_path / "a.png", str(tmp_path / "b.png"), tmp_path / "c.png", tmp_path / "d.png"])
        == expected[:4]
    )
    assert task.predict(images[0]) == expected[:1]  # (H, W)
    assert task.predict(images[0][:, :, None]) == expected[:1]  # (H, W, 1)
    assert task.predict(np.repeat(images[0][:, :, None], 3, axis=2)) == expected[:1]  # (H, W, 3), colour
    assert task.predict(torch.from_numpy(images[0])[None]) == expected[:1]  # (C, H, W)
    assert task.predict([torch.from_numpy(images[4]).float() / 255, pil[5].resize((100, 100))]) == expected[4:6]
    top = task.predict_topk(pil[:2], k=3)
    assert [row[0][0] for row in top] == expected[:2] and all(len(row) == 3 and row[0][1] >= row[1][1] for row in top)
    with pytest.raises(UsageError, match=r"float images must hold values in \[0, 1\].*got 0 to 16.*divide by 16"):
        from sklearn.datasets import load_digits

        task.predict(load_digits().images[:2])
    with pytest.raises(DataError, match="cannot read image"):
        (tmp_path / "broken.png").write_bytes(b"not a png")
        task.predict(tmp_path / "broken.png")
