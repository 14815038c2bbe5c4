"""The subjects of a study and their subject-level splits (Hussein et al. 2023: training, validation,
threshold-optimisation and unseen test sets; Cabezas & Diez 2024: k folds).

* **Phantom data** is generated once into ``DIR/data/`` (each case written atomically by
  :func:`LesionSegLogic.phantom.write_case`, so an interrupted generation resumes): ``sub-NNN`` subjects with
  lesions and ``ctl-NNN`` lesion-free subjects (``n_lesions=0``) for patient-level specificity. A drawn subject
  that ends up without lesions is redrawn with the next seed of its series.
* **A data folder** (phantom layout or manifest, :func:`LesionSegLogic.training.data.discover_cases`): every case
  needs a reference; subjects whose reference is empty are the lesion-free ones and go, alternately, to the unseen
  and threshold-optimisation sets.

The split draws with ``splits.seed`` only, so every loss and every training seed sees the same subjects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from LesionSegLogic.errors import ConfigError, InputError
from LesionSegLogic.study.config import PhantomData, SplitConfig, StudyConfig
from LesionSegLogic.training.data import Case, Splits, discover_cases

LESION_FREE_INDEX = 100_000  # phantom series index offset of the lesion-free subjects
MAX_REDRAWS = 20


@dataclass(frozen=True)
class Subjects:
    """The study's subjects: those with reference lesions and the lesion-free ones (both sorted by name)."""

    with_lesions: tuple[Case, ...]
    lesion_free: tuple[Case, ...]


def _phantom_case(
    settings: PhantomData, index: int, lesion_free: bool, folder: Path, maps: object, contrasts: Sequence[str]
) -> Case:
    from LesionSegLogic.phantom import case_seed, generate_case, write_case

    if not (folder / "phantom.json").is_file():
        for attempt in range(MAX_REDRAWS):
            seed = case_seed(settings.seed, index + attempt * 1_000_000)
            case = generate_case(
                seed, anatomy=settings.anatomy, spacing=settings.spacing, fov_mm=settings.fov_mm,
                n_lesions=0 if lesion_free else settings.n_lesions, snr=settings.snr, maps=maps,
            )
            if lesion_free or case.records:
                break
        else:
            raise InputError(f"{MAX_REDRAWS} draws gave no lesion in this field of view; widen data.phantom.fov_mm")
        write_case(case, folder)
    return Case(folder.name, tuple(folder / f"{c}.nii.gz" for c in contrasts), folder / "lesions.nii.gz")


def generate_subjects(
    config: StudyConfig, root: Path, progress: Callable[[str], None] | None = None
) -> Subjects:
    """Generate (or reuse) the phantom subjects of ``config`` under ``root``."""
    settings = config.data.phantom
    assert settings is not None
    s = config.splits
    n_lesion = s.train + s.validation + s.threshold + s.test
    n_free = s.lesion_free_threshold + s.lesion_free_test
    wanted = [(f"sub-{i:03d}", i, False) for i in range(n_lesion)]
    wanted += [(f"ctl-{i:03d}", LESION_FREE_INDEX + i, True) for i in range(n_free)]
    todo = [w for w in wanted if not (root / w[0] / "phantom.json").is_file()]
    maps = None
    if todo and settings.anatomy == "brain":
        from LesionSegLogic.phantom import load_brain_maps

        maps = load_brain_maps()
    cases = []
    for name, index, free in wanted:
        if progress is not None and (name, index, free) in todo:
            progress(f"phantom {name}")
        cases.append((free, _phantom_case(settings, index, free, root / name, maps, config.data.contrasts)))
    return Subjects(tuple(c for f, c in cases if not f), tuple(c for f, c in cases if f))


def folder_subjects(config: StudyConfig) -> Subjects:
    """The cases of ``data.folder``, sorted into subjects with lesions and lesion-free ones."""
    from LesionSegLogic.io import read_image

    data = config.data
    cases = discover_cases(data.folder or "", data.contrasts, data.mask_name)
    with_lesions: list[Case] = []
    free: list[Case] = []
    for case in cases:
        mask = read_image(case.mask, role="mask")
        (with_lesions if np.any(mask.array) else free).append(case)
    return Subjects(tuple(with_lesions), tuple(free))


def check_subjects(subjects: Subjects, splits: SplitConfig, where: str) -> None:
    """Raise a :class:`ConfigError` when the subjects cannot fill the requested splits."""
    need = splits.train + splits.validation + splits.threshold + splits.test
    have = len(subjects.with_lesions)
    if have < need:
        raise ConfigError(
            f"{where}: impossible split: {have} subject(s) with lesions cannot fill train {splits.train} + "
            f"validation {splits.validation} + threshold {splits.threshold} + test {splits.test} = {need}"
        )


def _take(cases: Sequence[Case]) -> tuple[Case, ...]:
    return tuple(sorted(cases, key=lambda c: c.name))


def make_folds(
    subjects: Subjects, splits: SplitConfig, lesion_free_counts: tuple[int, int] | None = None
) -> list[Splits]:
    """One :class:`Splits` per fold. Subjects with lesions are shuffled with ``splits.seed``; the unseen set is
    the same in every fold. ``lesion_free_counts`` = (threshold, test) lesion-free subjects to use (``None``:
    all, alternating test / threshold)."""
    rng = np.random.default_rng(splits.seed)
    pool = [subjects.with_lesions[i] for i in rng.permutation(len(subjects.with_lesions))]
    free = list(subjects.lesion_free)
    if lesion_free_counts is None:
        free_test, free_thr = free[0::2], free[1::2]
    else:
        n_thr, n_test = lesion_free_counts
        free_thr, free_test = free[:n_thr], free[n_thr:n_thr + n_test]
    test = _take(pool[: splits.test] + free_test)
    development = pool[splits.test: splits.test + splits.train + splits.validation + splits.threshold]
    if splits.folds == 1:
        a, b = splits.train, splits.train + splits.validation
        return [Splits(_take(development[:a]), _take(development[a:b]), _take(development[b:] + free_thr), test)]
    chunks = np.array_split(np.arange(len(development)), splits.folds)
    share = splits.validation / (splits.validation + splits.threshold)
    folds = []
    for chunk in chunks:
        held = [development[i] for i in chunk]
        n_val = min(len(held) - 1, max(1, int(round(share * len(held)))))
        train = [c for i, c in enumerate(development) if i not in set(chunk.tolist())]
        folds.append(Splits(_take(train), _take(held[:n_val]), _take(held[n_val:] + free_thr), test))
    return folds


def prepare_folds(config: StudyConfig, out: Path, progress: Callable[[str], None] | None = None) -> list[Splits]:
    """Subjects (generated or found) checked against the split counts and split into folds."""
    where = config.source or "<config>"
    if config.data.phantom is not None:
        subjects = generate_subjects(config, out / "data", progress)
        counts: tuple[int, int] | None = (config.splits.lesion_free_threshold, config.splits.lesion_free_test)
    else:
        subjects = folder_subjects(config)
        counts = None
    check_subjects(subjects, config.splits, where)
    return make_folds(subjects, config.splits, counts)
