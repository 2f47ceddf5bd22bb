"""Tasks by name (``task.name`` in a recipe): the LightningModules that train a registered model."""

from zoo.registry import Registry
from zoo.tasks.base import Task
from zoo.tasks.classification import ClassificationTask
from zoo.tasks.language_model import LanguageModelTask
from zoo.tasks.skipgram import SkipGramTask

TASKS = Registry("task")
for _task in (ClassificationTask, LanguageModelTask, SkipGramTask):
    TASKS.register(_task.name)(_task)

# Task arguments that a recipe's ``task`` section may not set: the CLI fills them from the model
# name, the other sections and what the data describes.
TASK_MANAGED = ("model", "model_kwargs", "optimizer", "scheduler") + tuple(
    dict.fromkeys(key for name in TASKS for key in TASKS.get(name).filled_by_data)
)

__all__ = ["TASKS", "TASK_MANAGED", "Task", "ClassificationTask", "LanguageModelTask", "SkipGramTask"]
