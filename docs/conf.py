"""The documentation site: Sphinx with MyST-NB, the pydata theme (docs/design.md says why).

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html    # strict, as CI builds it
    ZOO_DOCS_EXECUTE=0 python -m sphinx -b html docs docs/_build/html    # quick: the lessons not run

By default every lesson (docs/lessons/*.md, MyST Markdown notebooks) is executed during the build, and a
cell that fails (a lesson's assert included), or one that runs past its 3 minutes, fails the build.
``ZOO_DOCS_EXECUTE=0`` shows the lessons without running them, for a quick look at the pages.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]  # zoo from this checkout; the site's own extension

import zoo  # noqa: E402  (after the path above: the checkout's zoo, whatever is installed)

project = "zoo"
author = "zoo's authors"
copyright = "zoo's authors, MIT licence"
release = version = zoo.__version__

extensions = [
    "myst_nb",  # MyST Markdown pages, and the lessons as notebooks executed at build time
    "sphinx.ext.autodoc",  # the Python API from zoo's docstrings
    "zoo_docs",  # docs/_ext/zoo_docs.py: every command's --help, the options from zoo/schema.json, the recipes
]

exclude_patterns = ["_build", "_ext", "_static", "images", "tune", "**/.ipynb_checkpoints", "**/runs", "**/studies"]
suppress_warnings = ["mystnb.unknown_mime_type"]

# --- MyST ---------------------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist", "attrs_inline"]
myst_heading_anchors = 3  # [text](#a-heading) and [text](page.md#a-heading) links, checked by the build

# --- the lessons: executed at every build ----------------------------------------------------------------
nb_execution_mode = "off" if os.environ.get("ZOO_DOCS_EXECUTE", "1") == "0" else "force"
if nb_execution_mode == "off":
    # Unexecuted, a lesson's cells are highlighted as plain Python (the kernel says "IPython" only when it runs),
    # and IPython's own syntax in them (`!command`) is not a reason to fail the quick build.
    suppress_warnings.append("misc.highlighting_failure")
nb_execution_raise_on_error = True  # a failing cell, a lesson's assert among them, fails the build
# Seconds a cell may take: each lesson's budget is 3 minutes on 2 cores. ZOO_DOCS_TIMEOUT=600 lets a build on
# a machine busy with other work finish (the budget holds for an idle one).
nb_execution_timeout = int(os.environ.get("ZOO_DOCS_TIMEOUT", "180"))
nb_execution_show_tb = True  # the traceback of a failing cell in the build's log
nb_execution_in_temp = True  # runs/ and studies/ a lesson writes go to a temporary folder, not into docs/
nb_merge_streams = True

# --- the Python API ---------------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# Types of other libraries (torch, Lightning, pandas, numpy, ...) are not documented here: the strict build
# (-n) checks every reference to zoo's own names, not to theirs.
nitpick_ignore_regex = [
    ("py:class", r"(torch|lightning|pandas|numpy|np|sklearn|gensim|collections|typing|pathlib|os)\..*"),
    ("py:class", r"(Path|Any|Callable|Iterable|Mapping|Sequence|Literal|TensorBatches|optional)"),
    ("py:class", r"(nn\.Module|torch|Tensor|DataFrame|KeyedVectors|LightningModule|LightningDataModule)"),
    ("py:class", r"(zoo\.(tasks|data|results|training)\..*)"),
    ("py:class", r"zoo\.exporting\.Exported|zoo\.registry\.T"),  # (a result record, a type variable)
]

# --- the pages ----------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "zoo"
html_static_path = ["_static"]
html_css_files = ["zoo.css"]  # a wider article: the pages hold code 100-120 characters wide
html_last_updated_fmt = None
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "design": [], "limitations": [], "safety": [], "getting-started": []}
