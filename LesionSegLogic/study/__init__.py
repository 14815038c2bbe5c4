"""``lesionseg study``: the loss × decision-threshold study of the seed papers in one command (issue 14).

Train one model per (loss, seed, fold), choose each model's threshold on a threshold-optimisation set, report at
0.5 and at that threshold on it and on an unseen set (Hussein et al. 2023: Tables 1–2, Fig. 2), with seed bands
(Cabezas & Diez 2024, Fig. 3), pairwise loss comparisons (Wilcoxon, Holm) and a stability index. Entry points:
:func:`read_config`, :func:`validate`, :func:`run_study`, :func:`make_executor`. See ``docs/study.md``.
"""

from LesionSegLogic.study.config import StudyConfig, read_config, validate
from LesionSegLogic.study.executors import EXECUTORS, LocalExecutor, RayExecutor, make_executor
from LesionSegLogic.study.runner import StudyOutcome, run_study

__all__ = [
    "EXECUTORS",
    "LocalExecutor",
    "RayExecutor",
    "StudyConfig",
    "StudyOutcome",
    "make_executor",
    "read_config",
    "run_study",
    "validate",
]
