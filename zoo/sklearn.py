"""zoo's models as scikit-learn estimators: ``ZooClassifier`` and ``ZooRegressor``.

They follow scikit-learn's estimator contract (skorch does the same for plain PyTorch modules), so a
zoo network goes wherever an estimator goes: ``Pipeline``, ``GridSearchCV``, ``cross_val_score``,
``clone``::

    from zoo.sklearn import ZooClassifier
    net = ZooClassifier("mlp", model__hidden=[64], optimizer__lr=0.01, trainer__max_epochs=20)
    cross_val_score(net, X, y, cv=5)
    GridSearchCV(net, {"model__hidden": [[16], [64, 64]], "optimizer__lr": [1e-3, 1e-2]}).fit(X, y)

Parameters: ``model`` (a registered model), ``config`` (a recipe or YAML file, as ``zoo.fit`` takes it),
every zoo option as ``section__key`` (``model__hidden``, ``optimizer__lr``, ``data__batch_size``,
``trainer__max_epochs``: the dotted ``section.key`` with a double underscore, as scikit-learn names
nested parameters), ``validation_split`` (a last fraction held out to choose the best epoch; 0: none, the
last weights), ``random_state`` (the run's ``seed_everything``), ``verbose`` (progress and summary
shown), ``run_root`` (a folder to keep each fit's run directory in; None keeps nothing).

A fit is quiet and writes nothing by default (no progress, no pictures, no run directory: a grid search
makes hundreds of fits). ``fit`` returns the estimator; afterwards ``classes_``, ``n_features_in_``,
``feature_names_in_`` (from a DataFrame), ``task_`` (the trained zoo task) and ``history_`` (the epochs,
a DataFrame) are set. ``warm_start`` is not offered: a zoo run resumes only on the data it started with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from zoo.errors import UsageError

#: recipe sections a ``section__key`` parameter may name (``zoo/recipes.py``)
SECTIONS = ("model", "data", "task", "optimizer", "scheduler", "trainer", "early_stopping", "checkpoint")


class ZooEstimator(BaseEstimator):
    """What the classifier and the regressor share: parameters, ``fit``, the predictions' input."""

    task_name = ""

    def __init__(
        self,
        model: str = "mlp",
        *,
        config: Any = None,
        validation_split: float = 0.0,
        random_state: int | None = None,
        verbose: bool = False,
        run_root: str | None = None,
        **options: Any,
    ):
        self.model = model
        self.config = config
        self.validation_split = validation_split
        self.random_state = random_state
        self.verbose = verbose
        self.run_root = run_root
        # (checked at fit, not here: scikit-learn's contract is that __init__ and set_params only store)
        for name, value in options.items():
            setattr(self, name, value)

    # --- parameters: the constructor's and every section__key set ------------------------------------
    @staticmethod
    def _check_option_name(name: str) -> None:
        section, sep, key = name.partition("__")
        if not sep or section not in SECTIONS or not key or "__" in key:
            raise UsageError(
                f"{name!r} is not a parameter: zoo's options are section__key (e.g. model__hidden, optimizer__lr; "
                f"sections: {', '.join(SECTIONS)})"
            )

    def _option_names(self) -> list[str]:
        """The zoo options set (every attribute that is neither a constructor parameter nor fitted state)."""
        own = set(super().get_params(deep=False))
        return sorted(k for k in vars(self) if k not in own and not k.startswith("_") and not k.endswith("_"))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        params = super().get_params(deep=False)
        params.update({name: getattr(self, name) for name in self._option_names()})
        return params

    def set_params(self, **params: Any) -> ZooEstimator:
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def overrides(self) -> dict[str, Any]:
        """The zoo options these parameters set, as ``zoo.fit`` takes them."""
        for name in self._option_names():
            self._check_option_name(name)
        out: dict[str, Any] = {f"{name.replace('__', '.', 1)}": getattr(self, name) for name in self._option_names()}
        out.setdefault("task.name", self.task_name)
        if self.random_state is not None:
            out["seed_everything"] = int(self.random_state)
        if not self.validation_split:
            out["data.val_split"] = 0.0  # (scikit-learn's estimators train on all they are given)
        if self.run_root is not None:
            out["trainer.default_root_dir"] = str(self.run_root)
        return out

    # --- fitting ----------------------------------------------------------------------------------------
    @staticmethod
    def _is_table(X: Any) -> bool:
        """Whether ``X`` is a DataFrame with a column of other than numbers: then zoo reads it as a table
        (text as categories, missing cells marked), as ``--data.name csv`` reads a file."""
        import sys

        pandas = sys.modules.get("pandas")
        if pandas is None or not isinstance(X, pandas.DataFrame):
            return False
        return not all(pandas.api.types.is_numeric_dtype(kind) for kind in X.dtypes)

    def _checked_pair(self, X: Any, y: Any, **checks: Any) -> tuple[Any, Any]:
        """``X`` and ``y`` checked as scikit-learn checks them at ``fit``; a table's columns are zoo's to read."""
        self._table_ = self._is_table(X)
        if not self._table_:
            return validate_data(self, X, y, dtype=[np.float32, np.float64], **checks)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        if np.ndim(y) != 1:
            raise ValueError(f"a table X (a DataFrame with text columns) takes one target y (N,), got {np.shape(y)}")
        return validate_data(self, X, reset=True, skip_check_array=True), np.asarray(y)

    def _inputs(self, X: Any) -> Any:
        """``X`` for the trained task: a table as it is, numbers as float64 (see ``_fit``)."""
        if self._table_:
            return validate_data(self, X, reset=False, skip_check_array=True)
        return np.asarray(validate_data(self, X, reset=False, dtype=[np.float32, np.float64]), dtype=np.float64)

    def _fit(self, X: Any, y: Any) -> ZooEstimator:
        from zoo.training import fit

        if self._table_:  # (a column of its own for y, named so as not to take one of X's)
            target = next(n for n in ("target", "y", "_target_") if n not in X.columns)
            data, more = (
                X.assign(**{target: np.asarray(y).tolist() if np.ndim(y) == 1 else list(y)}),
                {"target": target},
            )
        else:
            data, more = (X, y), {}
        result = fit(
            self.model,
            config=self.config,
            overrides=self.overrides(),
            data=data,
            validation_split=self.validation_split or None,
            quiet=not self.verbose,
            save=self.run_root is not None,
            **more,
        )
        # Predictions in float64: float32 products differ in their last bits with the batch's size, and
        # scikit-learn (rightly) expects predict(X[rows]) to equal predict(X)[rows].
        self.task_ = result.task.double()
        self.history_ = result.history
        self.run_dir_ = result.run_dir
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        tags.target_tags.multi_output = self.task_name == "regression"  # (y may be (N, k))
        return tags


class ZooClassifier(ClassifierMixin, ZooEstimator):
    """A zoo model as a scikit-learn classifier (see the module's docstring)."""

    task_name = "classification"

    def fit(self, X: Any, y: Any) -> ZooClassifier:
        from sklearn.utils.multiclass import check_classification_targets

        X, y = self._checked_pair(X, y)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"a classifier needs at least 2 classes in y; got 1 class: {self.classes_[0]!r}")
        # zoo learns the classes' indices in this same order (sorted), so index i is classes_[i]
        indices = np.searchsorted(self.classes_, y)
        return self._fit(X, indices)

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "task_")
        return self.task_.predict_proba(self._inputs(X)).numpy()

    def predict(self, X: Any) -> np.ndarray:
        probabilities = self.predict_proba(X)
        return self.classes_[probabilities.argmax(axis=1)]


class ZooRegressor(RegressorMixin, ZooEstimator):
    """A zoo model as a scikit-learn regressor, one target ``(N,)`` or several ``(N, k)``."""

    task_name = "regression"

    def fit(self, X: Any, y: Any) -> ZooRegressor:
        X, y = self._checked_pair(X, y, y_numeric=True, multi_output=True)
        self._y_columns = None if np.ndim(y) == 1 else np.shape(y)[1]
        return self._fit(X, y)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "task_")
        X = self._inputs(X)
        predicted = np.asarray(self.task_.predict(X), dtype=np.float64)
        return predicted.reshape(len(X)) if self._y_columns is None else predicted
