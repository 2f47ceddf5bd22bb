import pytest
from torch import nn

import zoo
from zoo.registry import Registry


def test_list_models_has_the_families_registered_so_far():
    assert zoo.list_models() == ["lenet", "lstm", "mlp", "word2vec"]


def test_get_model_returns_a_plain_module_that_does_not_import_lightning():
    net = zoo.get_model("lenet", num_classes=3)
    assert isinstance(net, nn.Module)
    assert not any(cls.__module__.startswith("lightning") for cls in type(net).__mro__)


def test_unknown_model_raises_value_error_listing_known_names():
    with pytest.raises(ValueError) as err:
        zoo.get_model("lenett")
    message = str(err.value)
    assert "unknown model 'lenett'" in message
    assert "did you mean 'lenet'" in message
    for name in zoo.list_models():
        assert name in message


def test_unknown_argument_names_the_argument_and_the_valid_ones():
    with pytest.raises(ValueError) as err:
        zoo.get_model("lenet", num_clases=3)
    assert "num_clases" in str(err.value) and "num_classes" in str(err.value)


def test_wrongly_typed_argument_is_refused():
    with pytest.raises(ValueError, match="dropout expects float"):
        zoo.get_model("lenet", dropout="high")


def test_duplicate_registration_raises():
    with pytest.raises(ValueError, match="already registered"):
        zoo.register_model("lenet")(nn.Linear)


def test_registry_decorator_returns_the_class_and_registers_it():
    reg = Registry("widget")

    @reg.register("w")
    class Widget:
        pass

    @reg.register("a")
    class Another:
        pass

    assert reg.get("w") is Widget and reg.names() == ["a", "w"]  # listed by name, whatever the order of registration
    with pytest.raises(ValueError, match=r"unknown widget 'x' \(known: a, w\)"):
        reg.get("x")


def test_the_same_definition_run_again_replaces_itself_and_unregister_removes_it():
    """A notebook cell that defines and registers a model can be run twice; another class under a
    taken name still cannot."""
    reg = Registry("widget")

    def define():
        class Widget:
            pass

        return Widget

    first, again = define(), define()  # the same definition: same module and qualified name
    reg.register("w")(first)
    reg.register("w")(again)
    assert reg.get("w") is again
    with pytest.raises(ValueError, match="already registered"):
        reg.register("w")(nn.Linear)
    reg.unregister("w")
    assert reg.names() == []
    with pytest.raises(ValueError, match="unknown widget 'w'"):
        reg.unregister("w")
