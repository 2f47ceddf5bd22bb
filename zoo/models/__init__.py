"""Plain ``nn.Module`` model families, one per file. Importing this package imports each of its
modules, and each registers what it defines (``@register_model("lenet", ...)``): a new family is one
new file here."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
