"""What the web app asks of the other layers (phantom, zoo, stand-in probability, inference, export), behind
one small injectable object so that tests can swap any of them and the app never imports torch at start-up.

Nothing here reviews anything: the review itself is :class:`LesionSegLib.session.ReviewSession`'s.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from LesionSegLib.dicom_source import dicom_source
from LesionSegLib.runner import InferenceRunner, InProcessRunner

from LesionSegLogic.errors import LesionSegError
from LesionSegLogic.image import Image

from .files import find_case


@dataclass(frozen=True)
class ModelInfo:
    """One entry of the model list: a zoo model (``name`` is its zoo name) or a model the user added (``external``:
    an nnU-Net v2 folder or an ONNX model, :class:`LesionSegLogic.external.model_entry.ExternalModel`; ``name`` is
    its resolved path, which the runner hands to ``Predictor.load`` as ``lesionseg predict --model`` does)."""

    name: str
    recommended_threshold: float
    description: str = ""
    #: the zoo's ``ModelCard`` (anatomy, inputs, held-out metrics) for :func:`LesionSegLogic.defaults.recommended_model`
    card: Any = None
    external: Any = None

    @property
    def title(self) -> str:
        shown = self.external.title if self.external is not None else self.name
        return f"{shown} (recommended threshold {self.recommended_threshold:.2f})"

    @property
    def labels(self) -> tuple[str, ...]:
        """The lesion labels to choose from (an nnU-Net dataset with several foreground labels), else ``()``."""
        return tuple(self.external.labels) if self.external is not None and self.external.needs_label else ()


def external_model_info(entry: Any) -> ModelInfo:
    """The model-list entry of a model the user added (``PathGate.model`` checked and described it)."""
    return ModelInfo(entry.spec, float(entry.recommended_threshold), entry.kind, None, entry)


@dataclass(frozen=True)
class DemoCase:
    """A demo case, in memory; ``probability`` when the case folder ships one (else a stand-in is made)."""

    name: str
    flair: Image
    reference: Image
    t2: Image | None = None
    probability: Image | None = None


def _module(name: str, what: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise LesionSegError(f"{what} is not available in this installation ({error})") from error


def zoo_models() -> list[ModelInfo]:
    """The bundled models (``LesionSegLogic.zoo.list_models``) with their cards' recommended thresholds;
    entries whose card cannot be read are left out."""
    zoo = _module("LesionSegLogic.zoo", "the model zoo")
    models = []
    for entry in zoo.list_models():
        card = entry.card
        if card is None:
            continue
        description = f"{card.architecture}, {card.loss}" if card.loss else card.architecture
        models.append(ModelInfo(card.name, float(card.recommended_threshold), description, card))
    return models


def phantom_case(seed: int, folder: Path) -> DemoCase:
    """The phantom brain case of ``seed`` (``LesionSegLogic.phantom.generate_case``: deterministic, seconds), written
    into ``folder`` as ``lesionseg phantom`` writes a case — the images and ``phantom.json``, so the lesion regions
    come from the generator's own anatomy, not from registering the FLAIR to MNI152 — and read back from there."""
    phantom = _module("LesionSegLogic.phantom", "the phantom generator")
    phantom.write_case(phantom.generate_case(seed), folder)
    return read_demo(folder)


def read_demo(folder: Path) -> DemoCase:
    """A demo case from a folder written by ``lesionseg phantom`` (``flair``, ``lesions`` [, ``t2``])."""
    from LesionSegLogic.io import read_image

    case = find_case(folder)
    if case.reference is None:
        raise LesionSegError(f"{folder}: demo case has no lesions file")
    flair = read_image(case.flair)
    return DemoCase(folder.name, flair, read_image(case.reference, role="mask"),
                    None if case.t2 is None else read_image(case.t2),
                    None if case.probability is None else read_image(case.probability))


@dataclass(frozen=True)
class DemoLibrary:
    """Demo cases in ``folder`` (one sub-folder per case); phantom seeds not there yet are generated on first
    use and written there, so the next start opens them in a second."""

    folder: Path
    seeds: tuple[int, ...] = (0, 1, 2)

    def names(self) -> list[str]:
        present = sorted(p.name for p in self.folder.glob("*") if p.is_dir() and _has_flair(p))
        return present + [n for n in (f"phantom-{s:03d}" for s in self.seeds) if n not in present]

    def load(self, name: str) -> DemoCase:
        """The demo called ``name``, which must be one of :meth:`names` (never a path: ``/tmp/x`` or ``../x``
        would otherwise be joined onto the folder)."""
        if name not in self.names():
            raise LesionSegError(f"no demo case called {name!r} (have: {', '.join(self.names()) or 'none'})")
        folder = self.folder / name
        if folder.is_dir():
            return read_demo(folder)
        seeds = {f"phantom-{s:03d}": s for s in self.seeds}
        if name not in seeds:
            raise LesionSegError(f"no demo case called {name!r}")
        return phantom_case(seeds[name], folder)


def _has_flair(folder: Path) -> bool:
    try:
        find_case(folder)
    except LesionSegError:
        return False
    return True


def stand_in_probability(reference: np.ndarray, flair: Image, seed: int = 0) -> Image:
    """A model-free probability map made from the reference (``LesionSegLogic.threshold.synthetic``)."""
    from LesionSegLogic.threshold.synthetic import synthetic_probability

    array = synthetic_probability(np.asarray(reference, dtype=bool), spacing=flair.spacing, seed=seed)
    return flair.with_array(np.clip(array, 0.0, 1.0).astype(np.float32), name="stand-in probability")


def export_review(session: Any, out_dir: Path, *, dicom_seg: bool = False, dicom_pmap: bool = False) -> Path:
    """Write the review with the session layer's exporter into a new numbered folder under ``out_dir``
    (``review-001``, ``review-002``, …), so an export never replaces an earlier one. ``dicom_seg``/``dicom_pmap``
    add the DICOM Segmentation of the mask / the Parametric Map of the probability, referencing the DICOM series
    the FLAIR was read from (``LesionSegLib.export.dicom_source``: refused, before anything is written, when the
    inputs are not DICOM)."""
    exporter = _module("LesionSegLib.export", "the review exporter")
    source = dicom_source(session) if dicom_seg or dicom_pmap else None
    out_dir = Path(out_dir)
    number = 1
    while (out_dir / f"review-{number:03d}").exists():
        number += 1
    target = out_dir / f"review-{number:03d}"
    exporter.export_review(session, target, dicom_seg=source if dicom_seg else None,
                           dicom_pmap=source if dicom_pmap else None)
    return target


@dataclass
class Services:
    """The other layers the app uses; every field can be replaced (tests inject fakes)."""

    models: Callable[[], list[ModelInfo]] = zoo_models
    #: ``None``: the app uses ``DemoLibrary(<--demo-dir or <out>/demo-cases>)``.
    demos: DemoLibrary | None = None
    stand_in: Callable[[np.ndarray, Image], Image] = stand_in_probability
    #: ``export(session, out_dir, dicom_seg=False, dicom_pmap=False)`` (the keywords only when asked for)
    export: Callable[..., Path] = export_review
    runner: InferenceRunner = field(default_factory=InProcessRunner)
