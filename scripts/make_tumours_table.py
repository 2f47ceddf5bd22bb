"""Write examples/tumours.csv: scikit-learn's bundled breast-cancer table (Wisconsin diagnostic, 569
tumours) made to look like a table a learner brings, with text columns and missing cells.

The recipe (seeded, so the file is the same every time):

- the ten "mean" measurements stay numeric (radius, texture, ..., fractal dimension);
- two become text instead: ``size`` is the mean area's tertile ("small", "medium", "large"), and
  ``outline`` the worst concave points' quartile ("smooth", "lobed", "irregular", "spiculated"), so
  the information is there, but only as words;
- ``clinic`` is a text column of noise (north, south, east, west, at random): nothing to learn there;
- cells go missing at random, written as a real file writes them: 8% of ``radius`` empty, 5% of
  ``texture`` as NA, 5% of ``smoothness`` as "?", 6% of ``size`` and 3% of ``clinic`` empty;
- ``diagnosis`` is "malignant" or "benign"; 4 rows have it missing (they are left out, and counted).

    python scripts/make_tumours_table.py [examples/tumours.csv]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def tumours_table(seed: int = 0):
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    rng = np.random.default_rng(seed)
    bunch = load_breast_cancer()
    data = pd.DataFrame(bunch.data, columns=bunch.feature_names)
    table = pd.DataFrame({name.removeprefix("mean "): data[name] for name in bunch.feature_names[:10]})
    size = pd.qcut(table.pop("area"), 3, labels=["small", "medium", "large"]).astype(str)
    outline = pd.qcut(data["worst concave points"], 4, labels=["smooth", "lobed", "irregular", "spiculated"])
    table = table.astype(object)
    table.insert(2, "size", size)
    table["outline"] = outline.astype(str)
    table["clinic"] = rng.choice(["north", "south", "east", "west"], len(table))
    table["diagnosis"] = np.where(bunch.target == 0, "malignant", "benign")
    for column, share, marker in (
        ("radius", 0.08, ""),
        ("texture", 0.05, "NA"),
        ("smoothness", 0.05, "?"),
        ("size", 0.06, ""),
        ("clinic", 0.03, ""),
    ):
        table.loc[rng.random(len(table)) < share, column] = marker
    table.loc[rng.choice(len(table), 4, replace=False), "diagnosis"] = ""
    return table


if __name__ == "__main__":
    out = Path(
        sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "examples" / "tumours.csv"
    )
    tumours_table().to_csv(out, index=False, float_format="%.6g")
    print(f"wrote {out}")
