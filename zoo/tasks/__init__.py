"""Tasks by name (``task.name`` in a recipe): the LightningModules that train a registered model.

Importing this package imports each of its modules, and each registers the tasks it defines
(``@register_task("classification")``).
"""

import importlib
import pkgutil

from zoo.registry import TASKS
from zoo.tasks.base import Task
from zoo.tasks.supervised import SupervisedTask

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

from zoo.tasks.classification import ClassificationTask  # noqa: E402
from zoo.tasks.features import FeaturesTask  # noqa: E402
from zoo.tasks.language_model import LanguageModelTask  # noqa: E402
from zoo.tasks.regression import RegressionTask  # noqa: E402
from zoo.tasks.skipgram import SkipGramTask  # noqa: E402


def task_managed() -> tuple[str, ...]:
    """Task arguments that a recipe's ``task`` section may not set: zoo fills them from the model
    name, the other sections and what the data describes."""
    filled = (key for name in TASKS for key in TASKS.get(name).filled_by_data)
    return ("model", "model_kwargs", "optimizer", "scheduler", *dict.fromkeys(filled))


__all__ = [
    "TASKS",
    "Task",
    "SupervisedTask",
    "FeaturesTask",
    "ClassificationTask",
    "RegressionTask",
    "LanguageModelTask",
    "SkipGramTask",
    "task_managed",
]
