"""Training data: a folder of cases, subject-level splits and loading onto the training grid.

Two layouts are accepted:

* **the phantom layout** (``lesionseg phantom``): one sub-folder per case holding ``<contrast>.nii.gz`` for
  each input contrast (e.g. ``flair.nii.gz``, ``t2.nii.gz``) and the reference ``lesions.nii.gz``;
* **a manifest**: ``manifest.csv`` (header ``case,<contrast>...,mask``) or ``manifest.json``
  (``{"cases": [{"case": ..., "flair": ..., "t2": ..., "mask": ...}]}``) in the folder, with paths relative
  to it; any NIfTI (or other ITK-readable) image/mask pairs can be listed this way.

Splits are by subject, never by patch (Hussein et al. 2023 uses separate training, validation, threshold-optimisation
and test subjects). Every problem with the folder raises a :mod:`LesionSegLogic.errors` error naming the file.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from LesionSegLogic.errors import FileMissingError, GeometryError, InputError
from LesionSegLogic.image import Image
from LesionSegLogic.jsonfile import read_json

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")
SPLITS = ("train", "validation", "threshold", "test")


@dataclass(frozen=True)
class Case:
    """One subject: an image file per contrast (in ``contrasts`` order) and its reference mask file."""

    name: str
    images: tuple[Path, ...]
    mask: Path


@dataclass
class LoadedCase:
    """A case on the training grid: normalised ``image`` (C, z, y, x) float32, ``mask`` (z, y, x) uint8."""

    name: str
    image: np.ndarray
    mask: np.ndarray
    spacing: tuple[float, float, float]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.mask.shape)


@dataclass(frozen=True)
class Splits:
    """Subject-level split: training, validation, threshold-optimisation and test cases."""

    train: tuple[Case, ...]
    validation: tuple[Case, ...]
    threshold: tuple[Case, ...]
    test: tuple[Case, ...]

    def names(self) -> dict[str, list[str]]:
        return {s: [c.name for c in getattr(self, s)] for s in SPLITS}


def _find_image(folder: Path, stem: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        p = folder / f"{stem}{suffix}"
        if p.is_file():
            return p
    return None


def _manifest_rows(folder: Path) -> tuple[Path, list[dict[str, str]]] | None:
    csv_path, json_path = folder / "manifest.csv", folder / "manifest.json"
    if csv_path.is_file():
        try:
            with csv_path.open(newline="", encoding="utf-8") as fh:
                return csv_path, [dict(r) for r in csv.DictReader(fh)]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InputError(f"not a valid manifest ({exc})", csv_path) from None
    if json_path.is_file():
        try:
            data = read_json(json_path, "manifest")
            rows = data["cases"] if isinstance(data, dict) else data
            return json_path, [{str(k): str(v) for k, v in r.items()} for r in rows]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"not a valid manifest ({exc})", json_path) from None
    return None


def discover_cases(
    folder: str | Path, contrasts: Sequence[str] = ("flair", "t2"), mask_name: str = "lesions"
) -> list[Case]:
    """List the cases of a data folder (phantom layout or manifest), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileMissingError("data folder does not exist or is not a folder", folder)
    if not contrasts:
        raise InputError("no input contrasts requested", folder)
    manifest = _manifest_rows(folder)
    cases: list[Case] = []
    if manifest is not None:
        path, rows = manifest
        for i, row in enumerate(rows):
            missing = [k for k in (*contrasts, "mask") if not row.get(k)]
            if missing:
                raise InputError(f"row {i + 1} lacks column(s) {', '.join(missing)}", path)
            name = row.get("case") or row.get("name") or f"case{i:03d}"
            images = tuple(folder / row[c] for c in contrasts)
            mask = folder / row["mask"]
            for p in (*images, mask):
                if not p.is_file():
                    raise FileMissingError(f"listed in {path.name} for case {name!r} but not found", p)
            cases.append(Case(name, images, mask))
    else:
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            mask = _find_image(sub, mask_name)  # type: ignore[assignment]  # None handled just below
            found = [_find_image(sub, c) for c in contrasts]
            if mask is None and not any(found):
                continue  # not a case folder
            if mask is None:
                raise FileMissingError(f"case has no reference mask '{mask_name}.nii.gz'", sub)
            for c, p in zip(contrasts, found, strict=True):  # type: ignore[assignment]  # None handled just below
                if p is None:
                    raise FileMissingError(f"case has no '{c}' image ({c}.nii.gz)", sub)
            cases.append(Case(sub.name, tuple(found), mask))  # type: ignore[arg-type]
    if not cases:
        raise InputError(
            "no cases found: expected case sub-folders with "
            f"{', '.join(c + '.nii.gz' for c in contrasts)} and {mask_name}.nii.gz, "
            "or a manifest.csv/manifest.json",
            folder,
        )
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise InputError("duplicate case names", folder)
    return sorted(cases, key=lambda c: c.name)


def split_cases(
    cases: Sequence[Case], fractions: Sequence[float] = (0.6, 0.15, 0.15, 0.1), seed: int = 0
) -> Splits:
    """Subject-level split into train / validation / threshold-optimisation / test (Hussein et al. 2023's four sets).

    Shuffles with ``seed`` and gives every split with a non-zero fraction at least one case (training first).
    """
    n = len(cases)
    w = np.asarray(fractions, dtype=float)
    if w.shape != (4,) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"fractions must be 4 non-negative numbers, got {fractions}")
    wanted = int((w > 0).sum())
    if n < wanted:
        raise InputError(f"{n} case(s) cannot fill {wanted} non-empty splits")
    counts = np.floor(w / w.sum() * n).astype(int)
    counts[(w > 0) & (counts == 0)] = 1
    while counts.sum() > n:
        counts[int(np.argmax(counts))] -= 1
    order = np.argsort(-w, kind="stable")
    i = 0
    while counts.sum() < n:
        counts[order[i % 4]] += 1 if w[order[i % 4]] > 0 else 0
        i += 1
    perm = np.random.default_rng(seed).permutation(n)
    shuffled = [cases[j] for j in perm]
    bounds = np.cumsum(counts)
    parts = np.split(np.arange(n), bounds[:-1])
    return Splits(*(tuple(sorted((shuffled[j] for j in p), key=lambda c: c.name)) for p in parts))


def _read(path: Path, role: str = "image") -> Image:
    from LesionSegLogic.io import read_image

    return read_image(path, role=role)  # type: ignore[arg-type]


def zscore(array: np.ndarray) -> np.ndarray:
    """The card's ``"zscore-foreground"`` normalisation: :func:`LesionSegLogic.preprocessing.zscore_normalise`
    inside the automatic foreground mask (the inference side applies the same)."""
    from LesionSegLogic.preprocessing import zscore_normalise

    return np.asarray(zscore_normalise(array), dtype=np.float32)


def load_case(case: Case, target_spacing: Sequence[float] | None = None) -> LoadedCase:
    """Read, check, resample (to ``target_spacing`` mm, array order z, y, x) and normalise one case."""
    images = [_read(p) for p in case.images]
    ref = _read(case.mask, "mask")
    for p, im in zip(case.images, images, strict=True):
        if not im.same_grid(ref):
            raise GeometryError(f"image grid differs from the mask's ({case.mask.name})", p)
    m = ref.array
    if target_spacing is not None:
        from LesionSegLogic.resample import resample_to_spacing

        target = tuple(float(v) for v in target_spacing)
        images = [resample_to_spacing(im, target) for im in images]  # type: ignore[arg-type]
        ref = resample_to_spacing(ref.with_array(ref.array.astype(np.float32)), target)  # type: ignore[arg-type]
        m = ref.array >= 0.5
    spacing = tuple(float(v) for v in ref.spacing)
    arrays = [im.array.astype(np.float32) for im in images]
    image = np.stack([zscore(a) for a in arrays]).astype(np.float32)
    return LoadedCase(case.name, image, np.asarray(m, dtype=np.uint8), spacing)  # type: ignore[arg-type]
