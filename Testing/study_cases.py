"""A seconds-long study for the tests: the ``tiny`` preset's recipe on a folder of small synthetic cases
(bright blobs in noise, :mod:`training_cases`) with lesion-free subjects, instead of phantoms (generating
brain phantoms alone takes longer than the suite's budget; the phantom path runs in the ``heavy`` test)."""

from __future__ import annotations

from pathlib import Path

from training_cases import make_case

from LesionSegLogic.study.config import StudyConfig, config_from_dict, merged
from LesionSegLogic.study.presets import preset_dict

SHAPE = (12, 16, 16)


def make_study_data(root: Path, n_lesion: int = 5, n_free: int = 2) -> Path:
    """``n_lesion`` cases with blobs and ``n_free`` lesion-free cases in the phantom layout."""
    for i in range(n_lesion):
        make_case(root / f"sub{i:02d}", seed=200 + i, shape=SHAPE)
    for i in range(n_free):
        make_case(root / f"ctl{i:02d}", seed=300 + i, shape=SHAPE, n_lesions=0)
    return root


def tiny_config(data: Path, **overrides: object) -> StudyConfig:
    """The ``tiny`` preset on ``data`` (a folder), with ``overrides`` laid over it."""
    raw = preset_dict("tiny")
    raw["data"] = {"folder": str(data), "contrasts": ["flair", "t2"]}
    return config_from_dict(merged(raw, dict(overrides)), "tiny-test")
