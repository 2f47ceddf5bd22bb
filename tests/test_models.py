"""Every registered model: output shape, finite output, and a gradient for every parameter."""

import pytest
import torch

import zoo
from conftest import EXAMPLES


def test_every_registered_model_has_an_example():
    assert sorted(EXAMPLES) == zoo.list_models()


@pytest.mark.parametrize("name", zoo.list_models())
def test_forward_shape_finite_and_gradients(name):
    kwargs, make_input, shape = EXAMPLES[name]
    torch.manual_seed(0)
    net = zoo.get_model(name, **kwargs).train()
    with torch.no_grad():  # generic weights: a zero initialisation (word2vec's) must not hide a cut-off parameter
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    inputs = make_input()
    out = net(*inputs) if isinstance(inputs, tuple) else net(inputs)
    assert tuple(out.shape) == shape
    assert torch.isfinite(out).all()
    out.float().pow(2).mean().backward()
    no_grad = [n for n, p in net.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert no_grad == []


@pytest.mark.parametrize(
    "options",
    [
        dict(input_size=32),
        dict(activation="tanh", pooling="avg"),
        dict(batch_norm=True, dropout=0.5),
        dict(in_channels=3, activation="leaky_relu"),
    ],
)
def test_lenet_options_keep_the_paper_shapes(options):
    size = options.get("input_size", 28)
    net = zoo.get_model("lenet", num_classes=10, **options)
    x = torch.rand(2, options.get("in_channels", 1), size, size)
    assert net.features(x).shape == (2, 16, 5, 5)  # the paper's 16 maps of 5x5 before the dense layers
    assert net(x).shape == (2, 10)


def test_lenet_has_the_lenet5_parameter_count():
    # conv 1*6*25+6, conv 6*16*25+16, fc 400*120+120, 120*84+84, 84*10+10
    expected = (150 + 6) + (2400 + 16) + (48000 + 120) + (10080 + 84) + (840 + 10)
    assert sum(p.numel() for p in zoo.get_model("lenet").parameters()) == expected


def test_lenet_rejects_sizes_it_was_not_designed_for():
    with pytest.raises(ValueError, match="input_size expects one of 28, 32, got 64"):
        zoo.get_model("lenet", input_size=64)
    from zoo.models.lenet import LeNet

    with pytest.raises(ValueError, match="input_size must be 28 or 32"):
        LeNet(input_size=64)  # the class checks too, for code that bypasses the registry
