"""The tuning toolkit, each knob against its definition: activations, initialisers, penalties,
optimizers, learning-rate schedules and losses."""

import math

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.nn import ACTIVATIONS, make_activation
from zoo.nn.init import INITIALIZERS, initialize
from zoo.optim import build_optimizer, build_scheduler
from zoo.tasks.classification import LOSSES

X = torch.linspace(-4, 4, 81)


@pytest.mark.parametrize(
    "name, definition",
    [
        ("linear", lambda x: x),
        ("sigmoid", lambda x: 1 / (1 + torch.exp(-x))),
        ("tanh", lambda x: (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))),
        ("relu", lambda x: torch.where(x > 0, x, 0.0)),
        ("leaky_relu", lambda x: torch.where(x > 0, x, 0.01 * x)),
        ("elu", lambda x: torch.where(x > 0, x, torch.exp(x) - 1)),
        ("gelu", lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))),
        ("softplus", lambda x: torch.log(1 + torch.exp(x))),
        ("noisy_relu", lambda x: torch.where(x > 0, x, 0.0)),  # in eval mode
    ],
)
def test_activation_matches_its_definition(name, definition):
    act = make_activation(name).eval()
    torch.testing.assert_close(act(X), definition(X), atol=1e-6, rtol=1e-5)


def test_every_activation_is_tested():
    assert ACTIVATIONS.names() == sorted(
        ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "noisy_relu", "elu", "gelu", "softplus"]
    )


def test_leaky_relu_slope_option():
    torch.testing.assert_close(
        make_activation("leaky_relu", leaky_slope=0.2)(torch.tensor([-2.0, 3.0])), torch.tensor([-0.4, 3.0])
    )


def test_noisy_relu_is_random_in_training_and_deterministic_in_eval():
    act = make_activation("noisy_relu")
    x = torch.randn(1000)
    act.train()
    assert not torch.equal(act(x), act(x))
    act.eval()
    assert torch.equal(act(x), act(x)) and torch.equal(act(x), torch.relu(x))


def test_noisy_relu_noise_has_variance_sigmoid_x():
    # At x = 0 the paper's noise is N(0, sigmoid(0)) = N(0, 0.5), so the output is max(0, z * sqrt(0.5))
    # with mean sqrt(0.5) / sqrt(2 pi).
    torch.manual_seed(0)
    out = make_activation("noisy_relu").train()(torch.zeros(400_000))
    assert out.mean().item() == pytest.approx(math.sqrt(0.5) / math.sqrt(2 * math.pi), rel=0.01)
    # Far from zero the rectifier is inactive, so the output is x + noise with variance sigmoid(x).
    big = make_activation("noisy_relu").train()(torch.full((400_000,), 6.0))
    assert big.var().item() == pytest.approx(1 / (1 + math.exp(-6.0)), rel=0.01)


def test_noisy_relu_fixed_sigma():
    torch.manual_seed(0)
    out = make_activation("noisy_relu", noise_std=0.3).train()(torch.full((400_000,), 5.0))
    assert out.std().item() == pytest.approx(0.3, rel=0.01) and out.mean().item() == pytest.approx(5.0, abs=0.01)


FAN_IN, FAN_OUT = 400, 300


@pytest.mark.parametrize(
    "name, low, high, std",
    [
        ("uniform", -0.05, 0.05, 0.05 / math.sqrt(3)),
        ("glorot_uniform", -math.sqrt(6 / 700), math.sqrt(6 / 700), math.sqrt(6 / 700) / math.sqrt(3)),
        ("he_uniform", -math.sqrt(6 / 400), math.sqrt(6 / 400), math.sqrt(6 / 400) / math.sqrt(3)),
        ("normal", None, None, 0.05),
        ("glorot_normal", None, None, math.sqrt(2 / 700)),
        ("he_normal", None, None, math.sqrt(2 / 400)),
    ],
)
def test_initialiser_matches_its_definition(name, low, high, std):
    torch.manual_seed(0)
    w = initialize(torch.empty(FAN_OUT, FAN_IN), name)  # torch's (out, in) layout
    if low is not None:
        assert w.min() >= low and w.max() <= high
        assert w.min() < low * 0.99 and w.max() > high * 0.99  # the whole range is used
    assert w.std().item() == pytest.approx(std, rel=0.02)
    assert abs(w.mean().item()) < 0.05 * std
    if name.endswith("_normal") and name != "normal":
        # Keras truncates at two (widened) standard deviations.
        assert w.abs().max() <= 2 * std / 0.87962566103423978 + 1e-7


def test_zeros_and_every_initialiser_is_tested():
    assert torch.count_nonzero(initialize(torch.ones(5), "zeros")) == 0
    assert INITIALIZERS.names() == sorted(
        ["zeros", "uniform", "normal", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal"]
    )


def test_mlp_uses_its_initialisers():
    net = zoo.get_model(
        "mlp", in_features=400, num_classes=3, hidden=[300], weight_init="he_uniform", bias_init="zeros"
    )
    first = net.dense_layers()[0]
    assert first.weight.abs().max() <= math.sqrt(6 / 400) and torch.count_nonzero(first.bias) == 0


def test_mlp_layer_order_is_dense_batchnorm_activation_dropout():
    net = zoo.get_model(
        "mlp", in_features=4, num_classes=3, hidden=[8, 8], batch_norm=True, dropout=0.5, activation="tanh"
    )
    kinds = [type(m).__name__ for m in net.layers]
    assert kinds == [
        "Flatten",
        "Linear",
        "BatchNorm1d",
        "Tanh",
        "Dropout",
        "Linear",
        "BatchNorm1d",
        "Tanh",
        "Dropout",
        "Linear",
    ]


def test_l1_l2_penalty_equals_the_hand_computed_value():
    torch.manual_seed(0)
    net = zoo.get_model("mlp", in_features=3, num_classes=2, hidden=[4], l1=0.01, l2=0.001)
    w1, w2 = net.dense_layers()[0].weight, net.dense_layers()[1].weight
    expected = 0.01 * (w1.abs().sum() + w2.abs().sum()) + 0.001 * ((w1**2).sum() + (w2**2).sum())
    torch.testing.assert_close(net.regularization_loss(), expected)
    assert zoo.get_model("mlp", in_features=3, hidden=[4]).regularization_loss() is None  # nothing to add or log


def test_penalty_is_added_to_the_training_loss_only():
    from zoo.tasks import ClassificationTask

    torch.manual_seed(0)
    task = ClassificationTask(
        model="mlp", model_kwargs=dict(in_features=3, num_classes=2, hidden=[4], l2=0.5), num_classes=2
    )
    batch = (torch.randn(6, 3), torch.tensor([0, 1, 0, 1, 1, 0]))
    task.log = task.log_dict = lambda *a, **k: None  # no Trainer attached: logging is not under test here
    data_loss = F.cross_entropy(task(batch[0]), batch[1])
    train_loss = task.step(batch, "train")[0]
    val_loss = task.step(batch, "val")[0]
    torch.testing.assert_close(train_loss, data_loss + task.model.regularization_loss())
    torch.testing.assert_close(val_loss, data_loss)


def one_step(name, grad, steps=1, **options):
    w = torch.nn.Parameter(torch.ones(3))
    optimizer, _ = build_optimizer([w], {"name": name, **options})
    for _ in range(steps):
        optimizer.zero_grad()
        (w * grad).sum().backward()
        optimizer.step()
    return w.detach()


G = torch.tensor([0.5, -2.0, 4.0])


@pytest.mark.parametrize(
    "name, options, steps, expected",
    [
        ("sgd", dict(lr=0.1), 1, 1 - 0.1 * G),
        ("sgd", dict(lr=0.1, momentum=0.9), 2, 1 - 0.1 * G - 0.1 * 1.9 * G),  # v2 = 0.9 g + g
        ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True), 1, 1 - 0.1 * 1.9 * G),  # g + 0.9 v1
        ("adam", dict(lr=0.01), 1, 1 - 0.01 * G / (G.abs() + 1e-8)),  # bias-corrected m/sqrt(v) = sign(g)
        ("adamw", dict(lr=0.01, weight_decay=0.1), 1, 1 * (1 - 0.01 * 0.1) - 0.01 * G / (G.abs() + 1e-8)),
        ("rmsprop", dict(lr=0.01, alpha=0.99), 1, 1 - 0.01 * G / (torch.sqrt(0.01 * G**2) + 1e-8)),
        ("adagrad", dict(lr=0.1), 1, 1 - 0.1 * G / (G.abs() + 1e-10)),
        ("adadelta", dict(lr=1.0, rho=0.9, eps=1e-6), 1, 1 - math.sqrt(1e-6) / torch.sqrt(0.1 * G**2 + 1e-6) * G),
    ],
)
def test_optimizer_update_matches_its_definition(name, options, steps, expected):
    torch.testing.assert_close(one_step(name, G, steps, **options), expected, rtol=1e-5, atol=1e-6)


def lr_sequence(scheduler_cfg, steps, decay=0.0, total_steps=100, steps_per_epoch=10, lr=0.1):
    w = torch.nn.Parameter(torch.ones(1))
    optimizer, _ = build_optimizer([w], {"name": "sgd", "lr": lr})
    scheduler = build_scheduler(
        optimizer, scheduler_cfg, decay=decay, total_steps=total_steps, steps_per_epoch=steps_per_epoch
    )["scheduler"]
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])  # the rate the next update uses
        optimizer.step()
        scheduler.step()
    return lrs


def test_keras_decay_equals_the_formula_at_every_step():
    lrs = lr_sequence({"name": "constant"}, 50, decay=0.01)
    assert lrs == pytest.approx([0.1 / (1 + 0.01 * k) for k in range(50)])


def test_warmup_then_cosine_to_the_final_fraction():
    lrs = lr_sequence({"name": "cosine", "warmup_steps": 10, "final_fraction": 0.1}, 101, total_steps=100)
    assert lrs[0] == pytest.approx(0.1 / 10) and lrs[9] == pytest.approx(0.1)  # linear warm-up
    assert lrs[55] == pytest.approx(0.1 * (0.1 + 0.9 * 0.5))  # half way through the cosine
    assert lrs[100] == pytest.approx(0.01)  # ends at final_fraction of the rate
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))


def test_step_schedule_multiplies_by_gamma_every_n_epochs():
    lrs = lr_sequence({"name": "step", "every_epochs": 2, "gamma": 0.5}, 60, steps_per_epoch=10)
    assert lrs[19] == pytest.approx(0.1) and lrs[20] == pytest.approx(0.05) and lrs[40] == pytest.approx(0.025)


def test_plateau_schedule_watches_a_metric():
    w = torch.nn.Parameter(torch.ones(1))
    optimizer, _ = build_optimizer([w], {"name": "sgd", "lr": 0.1})
    config = build_scheduler(
        optimizer, {"name": "plateau", "patience": 1, "factor": 0.5}, decay=0, total_steps=10, steps_per_epoch=1
    )
    assert config["monitor"] == "val_loss" and config["interval"] == "epoch"
    for _ in range(3):
        config["scheduler"].step(1.0)  # no improvement after the first epoch
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


def test_plateau_on_an_accuracy_without_a_mode_waits_while_it_grows():
    """Keras' mode="auto": a growing accuracy is progress (the task that logs it says so); Lightning's
    and torch's default "min" cut the rate as soon as accuracy improved."""
    from zoo.tasks import ClassificationTask

    w = torch.nn.Parameter(torch.ones(1))
    optimizer, _ = build_optimizer([w], {"name": "sgd", "lr": 0.1})
    config = build_scheduler(
        optimizer,
        {"name": "plateau", "monitor": "val_acc", "patience": 0, "factor": 0.5},
        decay=0,
        total_steps=10,
        steps_per_epoch=1,
        mode_of=ClassificationTask.metric_mode,
    )
    for accuracy in (0.5, 0.6, 0.7):
        config["scheduler"].step(accuracy)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)
    config["scheduler"].step(0.7)  # no longer growing
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


def test_each_task_says_which_of_its_metrics_are_better_higher():
    from zoo.tasks import ClassificationTask, LanguageModelTask, SkipGramTask

    assert [ClassificationTask.metric_mode(m) for m in ("val_acc", "val_loss", "train_acc", "acc")] == [
        "max",
        "min",
        "max",
        "max",
    ]
    assert [LanguageModelTask.metric_mode(m) for m in ("val_ppl", "val_bpc", "val_acc")] == ["min", "min", "max"]
    assert [SkipGramTask.metric_mode(m) for m in ("val_wordsim353", "val_simlex999", "test_analogy", "train_loss")] == [
        "max",
        "max",
        "max",
        "min",
    ]


def test_the_tasks_directions_agree_with_torchmetrics():
    """A metric kept in a torchmetrics object says itself whether it is better higher; the task's table
    must agree (it also answers for metrics before any object exists, e.g. to direct a search)."""
    from zoo.tasks import ClassificationTask, LanguageModelTask

    for task in (
        ClassificationTask(model="mlp", num_classes=3, model_kwargs={"num_classes": 3}),
        LanguageModelTask(model="lstm", vocab=list("abc"), model_kwargs={"vocab_size": 3}),
    ):
        for name, metric in task.metrics["val_metrics"].items():
            assert task.metric_mode(name) == ("max" if metric.higher_is_better else "min"), name


LOGITS = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]])
TARGET = torch.tensor([0, 1])


def test_cross_entropy_is_minus_log_softmax_of_the_target():
    p = torch.exp(LOGITS) / torch.exp(LOGITS).sum(1, keepdim=True)
    expected = -(torch.log(p[0, 0]) + torch.log(p[1, 1])) / 2
    torch.testing.assert_close(LOSSES["cross_entropy"](LOGITS, TARGET, 0.0), expected)


def test_mse_is_on_softmax_against_one_hot():
    p = torch.exp(LOGITS) / torch.exp(LOGITS).sum(1, keepdim=True)
    one_hot = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    torch.testing.assert_close(LOSSES["mse"](LOGITS, TARGET, 0.0), ((p - one_hot) ** 2).mean())


def test_binary_cross_entropy_on_the_class_1_logit():
    logits = torch.tensor([[0.3, 1.3], [2.0, -1.0], [0.0, 0.0]])
    y = torch.tensor([1, 0, 1])
    s = 1 / (1 + torch.exp(-(logits[:, 1] - logits[:, 0])))
    expected = -(y * torch.log(s) + (1 - y) * torch.log(1 - s)).mean()
    torch.testing.assert_close(LOSSES["bce"](logits, y, 0.0), expected)
    with pytest.raises(ValueError, match="two classes"):
        LOSSES["bce"](LOGITS, TARGET, 0.0)
