"""CSV files zoo writes from a user's text: a cell that a spreadsheet would run as a formula is
escaped (OWASP's rule), in every such file."""

from __future__ import annotations

import csv
from types import SimpleNamespace

from zoo.records import spreadsheet_safe
from zoo.search import write_trials_csv


def test_a_search_s_trials_csv_escapes_what_looks_like_a_formula(tmp_path):
    rows = [
        {
            "number": 0,
            "model.activation": '=HYPERLINK("http://x","click")',
            "value": -0.5,
            "run_dir": "@evil/trial-000",
        },
        {"number": 1, "model.activation": "relu", "value": 0.75, "run_dir": str(tmp_path / "trial-001")},
    ]
    write_trials_csv(rows, SimpleNamespace(study_dir=tmp_path))
    with open(tmp_path / "trials.csv", newline="", encoding="utf-8") as f:
        read = list(csv.DictReader(f))
    assert (
        read[0]["model.activation"] == '\'=HYPERLINK("http://x","click")' and read[0]["run_dir"] == "'@evil/trial-000"
    )
    assert read[0]["value"] == "-0.5" and read[1]["model.activation"] == "relu"  # numbers and plain text as they were


def test_spreadsheet_safe_follows_owasp():
    assert [spreadsheet_safe(v) for v in ("=1+1", "+cmd", "-x", "@a", "\tb", "\rc", "-1", "+2.5", "a=b", 3)] == [
        "'=1+1",
        "'+cmd",
        "'-x",
        "'@a",
        "'\tb",
        "'\rc",
        "-1",
        "+2.5",
        "a=b",
        "3",
    ]
