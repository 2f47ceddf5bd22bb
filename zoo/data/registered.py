"""Every data module of zoo's, imported: each registers the data sets it defines."""

import importlib
import pkgutil

import zoo.data

for _module in pkgutil.iter_modules(zoo.data.__path__):
    if _module.name != "registered":
        importlib.import_module(f"zoo.data.{_module.name}")
