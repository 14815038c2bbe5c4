"""Issue 16 ("exports record the same provenance; one coordinate convention"): the review export's lesions CSV
has what the lesion table shows — region and mean probability too — under one column list, centroids in RAS mm."""

from __future__ import annotations

import csv
import io
import math

import pytest

pytest.importorskip("slicer")

from LesionSegLib.export import LESIONS_CSV_COLUMNS, lesions_csv
from LesionSegLib.tables import LesionRow

from LesionSegLogic.metrics.report import CENTROID_COLUMNS
from LesionSegLogic.regions import REGIONS


def test_the_lesions_csv_has_the_tables_region_and_mean_probability() -> None:
    rows = [
        LesionRow(3, "predicted", "TP", 27.5, (12.25, -4.5, 6.0), 0.93, mean_probability=0.71,
                  region=REGIONS[0]),
        LesionRow(1, "reference", "FN", 8.0, (-30.0, 10.0, -2.5), math.nan),  # no map there, not labelled yet
    ]
    read = list(csv.DictReader(io.StringIO(lesions_csv(rows))))
    assert tuple(read[0]) == LESIONS_CSV_COLUMNS
    assert {"region", "mean_probability", "max_probability", *CENTROID_COLUMNS} <= set(LESIONS_CSV_COLUMNS)
    for row, written in zip(rows, read, strict=True):
        assert (int(written["id"]), written["kind"], written["status"]) == (row.id, row.kind, row.status)
        assert tuple(float(written[c]) for c in CENTROID_COLUMNS) == row.centroid_ras  # RAS, as the table
        assert written["region"] == row.region
    assert float(read[0]["mean_probability"]) == 0.71 and float(read[0]["max_probability"]) == 0.93
    assert read[1]["mean_probability"] == read[1]["max_probability"] == ""  # undefined: empty, not "nan"
