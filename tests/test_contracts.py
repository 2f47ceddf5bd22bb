"""A model of the user's own meets the task's contract or is refused in one line before training: it is
checked on one sample of the data, so a constructor that names its input size otherwise than zoo fills
it (``n_inputs`` for ``in_features``), or an output of the wrong width, is said in the user's terms."""

from __future__ import annotations

import pytest
import torch

import zoo


@pytest.fixture(scope="module")
def models():
    @zoo.register_model("contract_n_inputs", task="classification", data="breast_cancer")
    class NamedOtherwise(torch.nn.Module):
        def __init__(self, *, n_inputs: int = 30, num_classes: int = 2):
            super().__init__()
            self.layer = torch.nn.Linear(n_inputs, num_classes)

        def forward(self, x):  # x: (B, F)
            return self.layer(x)  # (B, num_classes)

    @zoo.register_model("contract_five_outputs", task="classification", data="wine")
    class FiveOutputs(torch.nn.Module):
        def __init__(self, *, in_features: int = 13):
            super().__init__()
            self.layer = torch.nn.Linear(in_features, 5)

        def forward(self, x):
            return self.layer(x)  # (B, 5), whatever the data's classes

    yield
    for name in ("contract_n_inputs", "contract_five_outputs"):
        zoo.registry.MODELS.unregister(name)


def test_a_model_that_names_its_input_size_otherwise_is_told_what_zoo_fills(models, tmp_path):
    with pytest.raises(zoo.UsageError) as caught:
        zoo.fit("contract_n_inputs", overrides={"model.n_inputs": 40, "trainer.default_root_dir": str(tmp_path)})
    assert str(caught.value) == (
        "model 'contract_n_inputs' does not take this data's inputs, (30,) a sample (mat1 and mat2 shapes cannot be "
        "multiplied (1x30 and 40x2)); zoo filled its constructor's num_classes=2 from the data; name its input size "
        "in_features (feature rows) or in_channels (images) for zoo to fill it"
    )
    assert not any(tmp_path.iterdir())  # refused before a run directory was made


def test_a_model_whose_output_is_not_one_number_per_class_is_refused(models, tmp_path):
    with pytest.raises(zoo.UsageError) as caught:
        zoo.fit("contract_five_outputs", overrides={"trainer.default_root_dir": str(tmp_path)})
    assert str(caught.value) == (
        "model 'contract_five_outputs' gives (5,) a sample, but the data has 3 classes: its output must be one "
        "number per class, (batch, 3); zoo filled its constructor's in_features=13 from the data"
    )
