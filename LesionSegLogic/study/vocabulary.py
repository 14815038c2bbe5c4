"""The study's metric vocabulary: one list, from which the tables, the CSV columns and the JSON keys derive.

The columns of Hussein et al. (2023) Tables 1–2: lesion-wise sensitivity, precision and F1, voxel-wise
sensitivity, precision and F1 (= Dice), then patient-level sensitivity and specificity (cohort values, see
:func:`LesionSegLogic.metrics.cohort.patient_level`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SubjectMetric:
    """A per-subject metric read from an ``evaluate`` dictionary: ``block``/``field`` and its table label."""

    key: str
    block: str
    field: str
    label: str


#: per-subject metrics of the tables, in Hussein et al. 2023's column order
SUBJECT_METRICS: tuple[SubjectMetric, ...] = (
    SubjectMetric("lesion_sensitivity", "lesion", "sensitivity", "L-sensitivity"),
    SubjectMetric("lesion_precision", "lesion", "precision", "L-precision"),
    SubjectMetric("lesion_f1", "lesion", "f1", "L-F1"),
    SubjectMetric("voxel_sensitivity", "voxel", "sensitivity", "V-sensitivity"),
    SubjectMetric("voxel_precision", "voxel", "precision", "V-precision"),
    SubjectMetric("voxel_f1", "voxel", "dice", "V-F1"),
)
#: cohort (patient-level) metrics, after the per-subject ones
PATIENT_METRICS: tuple[tuple[str, str], ...] = (
    ("patient_sensitivity", "P-sensitivity"),
    ("patient_specificity", "P-specificity"),
)
#: lesion counts kept per subject and threshold (patient-level detection needs them)
COUNT_FIELDS: tuple[str, ...] = ("n_reference", "n_predicted")
#: the objective names of :data:`LesionSegLogic.threshold.sweep.OBJECTIVES` → the per-subject metric key
OBJECTIVE_METRIC = {"voxel-f1": "voxel_f1", "lesion-f1": "lesion_f1"}
#: the evaluation sets of a job: threshold-optimisation and unseen test (Hussein et al. 2023's two rows per loss)
EVALUATION_SETS: tuple[tuple[str, str], ...] = (("threshold", "threshold-optimisation set"), ("test", "unseen set"))
#: per-epoch validation columns of ``log.csv`` drawn as seed bands (Cabezas & Diez 2024, Fig. 3)
BAND_COLUMNS: tuple[tuple[str, str], ...] = (
    ("val_loss", "validation loss (patches)"),
    ("val_patch_dice", "validation Dice (patches, 0.5)"),
    ("val_image_dice", "validation Dice (whole images, 0.5)"),
)
