"""Model cards: the JSON file beside every weights file that says what the model is and how to use it.

A card is data about a model (issue 6): architecture and its parameters, loss and its parameters, the input
contrasts in channel order, the patch size, the target spacing and normalisation used in training, how it was
trained, its validation metrics at 0.5 and at its **recommended threshold** (with the objective that picked
it, e.g. Hussein et al. 2023's median voxel-wise F1 on a threshold-optimisation set), the anatomy it was trained on
(``"brain"`` or ``"cord"``; default ``"brain"``, what every bundled model saw), the weights file name and its
sha256, the exact command that produced it, and a plain "demonstration only" note.

**Format 2** (zoo v2, issue 12) adds ``task`` (:data:`TASKS`: ``"lesions"`` — every lesion in the image, reference
``lesions.nii.gz``; ``"new_lesions"`` — lesions new since the baseline, reference ``new_lesions.nii.gz``) and
``calibration`` (expected calibration error and reliability bins on the held-out set,
:mod:`LesionSegLogic.metrics.calibration`); ``training`` carries the provenance (commit, configuration, data
generator settings and seeds, iterations, device, wall time) and ``validation`` the held-out metrics on the
shifted test set. Format-1 cards still load: ``task`` is derived from the inputs (a model reading a baseline image
finds new lesions), ``calibration`` is empty.

``ModelCard.from_json(path)`` validates everything and raises :class:`~LesionSegLogic.errors.ModelFileError`
naming the file and the field at fault.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from os import PathLike
from pathlib import Path
from typing import Any

from LesionSegLogic.anatomy import ANATOMIES
from LesionSegLogic.errors import ModelFileError
from LesionSegLogic.inference.fusion import FUSIONS
from LesionSegLogic.inference.tta import TTAS
from LesionSegLogic.jsonfile import read_json

CARD_FILE = "card.json"
#: a card larger than this is refused unread (the bundled cards are a few kB, with their validation metrics)
MAX_CARD_BYTES = 4 << 20
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 2
#: every card format this version reads (format 1: the v1 zoo, without ``task``/``calibration``)
SUPPORTED_FORMATS = (1, 2)
#: what a model segments → the reference mask file stem it is measured against (phantom layout); the one list
TASK_REFERENCES: dict[str, str] = {"lesions": "lesions", "new_lesions": "new_lesions"}
TASKS: tuple[str, ...] = tuple(TASK_REFERENCES)
#: contrast names a card may list as inputs (file stems of the phantom layout); ``difference`` is
#: follow-up FLAIR minus baseline FLAIR after normalisation (Perera et al. 2025).
KNOWN_CONTRASTS = ("flair", "t2", "baseline", "baseline_flair", "difference")
#: the image each card input is computed from (``flair``/``t2``/``baseline``: the predictor's image roles)
CONTRAST_IMAGES: dict[str, tuple[str, ...]] = {
    "flair": ("flair",), "t2": ("t2",), "baseline": ("baseline",), "baseline_flair": ("baseline",),
    "difference": ("flair", "baseline"),
}  # fmt: skip
IMAGE_ROLES = ("flair", "t2", "baseline")
#: image role → the file stems a case folder may hold it under (the card contrasts read from that image alone; the
#: more specific name first: ``baseline_flair.nii.gz`` before ``baseline.nii.gz``)
ROLE_FILE_STEMS: dict[str, tuple[str, ...]] = {
    role: tuple(sorted((c for c, images in CONTRAST_IMAGES.items() if images == (role,)), key=len, reverse=True))
    for role in IMAGE_ROLES
}
DEFAULT_ANATOMY = "brain"
NORMALISATIONS = ("zscore-foreground", "zscore", "nyul", "none")
DEMO_NOTE = (
    "Demonstration only, not for clinical use: trained on synthetic phantoms. "
    "Train on real, annotated data with `lesionseg train` before using it on patients."
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: a patch axis longer than this (voxels) is refused as absurd (a 512³ patch is already 134 M voxels per window)
MAX_PATCH = 512
#: a target spacing outside [MIN_TARGET_SPACING, MAX_TARGET_SPACING] mm is refused: resampling a 200 mm head to
#: 0.001 mm would ask for 8·10¹⁵ voxels (issue 18), and no MRI model is trained on voxels of 0.1 mm or 2 cm.
MIN_TARGET_SPACING = 0.1
MAX_TARGET_SPACING = 20.0
#: architecture parameters that count the network's input channels (compared with the card's ``inputs``)
CHANNEL_PARAMS = ("in_channels",)


@dataclass(frozen=True)
class ModelCard:
    """Everything needed to run and judge one model. ``target_spacing`` is in array order (z, y, x) mm;
    ``None`` means the model runs on the input's own grid. ``normalisation`` is ``{"method": ...}`` plus the
    method's parameters (``"landmarks"`` for Nyúl). ``inference`` holds default ``overlap``, ``fusion`` and
    ``tta``. ``validation`` maps ``"at_0.5"`` and ``"at_recommended"`` to metric dictionaries. ``anatomy`` is
    what the model was trained on (:data:`LesionSegLogic.anatomy.ANATOMIES`); the predictor warns when an image
    shows another one."""

    name: str
    architecture: str
    inputs: tuple[str, ...]
    patch_size: tuple[int, int, int]
    recommended_threshold: float = 0.5
    anatomy: str = DEFAULT_ANATOMY
    #: :data:`TASKS`; empty → derived from the inputs (:meth:`derived_task`), so format-1 cards load
    task: str = ""
    architecture_params: dict[str, Any] = field(default_factory=dict)
    loss: str = ""
    loss_params: dict[str, Any] = field(default_factory=dict)
    target_spacing: tuple[float, float, float] | None = None
    normalisation: dict[str, Any] = field(default_factory=lambda: {"method": "zscore-foreground"})
    inference: dict[str, Any] = field(
        default_factory=lambda: {"overlap": 0.5, "fusion": "gaussian", "tta": "none"}
    )
    threshold_objective: str = ""
    validation: dict[str, Any] = field(default_factory=dict)
    #: held-out calibration: ``{"ece", "n_bins", "voxels", "bins": [{"lower", "upper", "count", "confidence",
    #: "accuracy"}]}`` (:func:`LesionSegLogic.metrics.calibration.reliability`); empty when not measured
    calibration: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    weights_file: str = WEIGHTS_FILE
    weights_sha256: str = ""
    command: str = ""
    note: str = DEMO_NOTE
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(str(c) for c in self.inputs))
        object.__setattr__(self, "patch_size", tuple(self.patch_size))
        if self.target_spacing is not None:
            object.__setattr__(self, "target_spacing", tuple(self.target_spacing))
        if not self.task:
            object.__setattr__(self, "task", self.derived_task())

    def derived_task(self) -> str:
        """The task of a card that does not state one: ``new_lesions`` when it reads a baseline image."""
        return "new_lesions" if "baseline" in self.images_needed() else "lesions"

    def images_needed(self) -> frozenset[str]:
        """The image roles (``flair``, ``t2``, ``baseline``) this model reads, from its ``inputs``."""
        return frozenset().union(*(CONTRAST_IMAGES.get(c, (c,)) for c in self.inputs))

    def grid_image(self) -> str:
        """The image role whose grid the outputs are written on: the FLAIR (the follow-up of a longitudinal model)
        when the model reads one, else its first image in :data:`IMAGE_ROLES` order (``t2`` for a T2-w-only cord
        model)."""
        needed = self.images_needed()
        return next((role for role in IMAGE_ROLES if role in needed), "flair")

    # validation -------------------------------------------------------------------------------------------
    def problems(self, *, require_sha256: bool = True) -> list[str]:
        """Every reason this card is unusable (empty when it is valid)."""
        out: list[str] = []
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", self.name):
            out.append(f"name must be a simple identifier, got {self.name!r}")
        if not isinstance(self.architecture, str) or not self.architecture:
            out.append("architecture must be a non-empty string")
        if not isinstance(self.architecture_params, dict) or not isinstance(self.loss_params, dict):
            out.append("architecture_params and loss_params must be objects")
        if not self.inputs:
            out.append("inputs must list at least one contrast")
        unknown = [c for c in self.inputs if c not in KNOWN_CONTRASTS]
        if unknown:
            out.append(f"unknown input contrast(s) {unknown}; known: {list(KNOWN_CONTRASTS)}")
        if len(set(self.inputs)) != len(self.inputs):
            out.append(f"inputs repeat a contrast: {list(self.inputs)}")
        if len(self.patch_size) != 3 or not all(
            isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= MAX_PATCH for p in self.patch_size
        ):
            out.append(f"patch_size must be three integers in [1, {MAX_PATCH}], got {_short(list(self.patch_size))}")
        if self.target_spacing is not None and (
            len(self.target_spacing) != 3
            or not all(_is_number(s) and MIN_TARGET_SPACING <= s <= MAX_TARGET_SPACING for s in self.target_spacing)
        ):
            out.append(f"target_spacing must be null or three numbers in [{MIN_TARGET_SPACING:g}, "
                       f"{MAX_TARGET_SPACING:g}] mm, got {_short(self.target_spacing)}")
        out += self._channel_problems()
        if not _is_number(self.recommended_threshold) or not 0.0 < self.recommended_threshold < 1.0:
            out.append(f"recommended_threshold must be in (0, 1), got {self.recommended_threshold!r}")
        if self.anatomy not in ANATOMIES:
            out.append(f"anatomy must be one of {list(ANATOMIES)}, got {self.anatomy!r}")
        if self.task not in TASKS:
            out.append(f"task must be one of {list(TASKS)}, got {_short(self.task)}")
        if not isinstance(self.calibration, dict) or not isinstance(self.training, dict):
            out.append("calibration and training must be objects")
        method = self.normalisation.get("method") if isinstance(self.normalisation, dict) else None
        if method not in NORMALISATIONS:
            out.append(f"normalisation.method must be one of {list(NORMALISATIONS)}, got {method!r}")
        elif method == "nyul":
            out += _nyul_problems(self.normalisation)
        inf = self.inference if isinstance(self.inference, dict) else {}
        if not isinstance(self.inference, dict):
            out.append("inference must be an object")
        if "overlap" in inf and not (_is_number(inf["overlap"]) and 0.0 <= inf["overlap"] < 1.0):  # NaN too
            out.append(f"inference.overlap must be in [0, 1), got {inf['overlap']!r}")
        if "fusion" in inf and inf["fusion"] not in FUSIONS:
            out.append(f"inference.fusion must be one of {list(FUSIONS)}, got {inf['fusion']!r}")
        if "tta" in inf and inf["tta"] not in TTAS:
            out.append(f"inference.tta must be one of {list(TTAS)}, got {inf['tta']!r}")
        wf = self.weights_file
        if not isinstance(wf, str) or not wf or Path(wf).name != wf:
            out.append(f"weights_file must be a plain file name beside the card, got {self.weights_file!r}")
        sha = self.weights_sha256
        if require_sha256 and not (isinstance(sha, str) and _SHA256.match(sha)):
            out.append("weights_sha256 must be 64 lower-case hex digits")
        if self.format_version not in SUPPORTED_FORMATS:
            out.append(f"format_version {self.format_version!r} is not supported (expected one of "
                       f"{list(SUPPORTED_FORMATS)})")
        return out

    def _channel_problems(self) -> list[str]:
        """The architecture's input channel count (when the card states it) must be one per input contrast."""
        params = self.architecture_params if isinstance(self.architecture_params, dict) else {}
        out = []
        for key in CHANNEL_PARAMS:
            if key not in params:
                continue
            value = params[key]
            if not (isinstance(value, int) and not isinstance(value, bool)) or value != len(self.inputs):
                out.append(f"architecture_params.{key} is {_short(value)} but the card lists {len(self.inputs)} "
                           f"input(s) {list(self.inputs)}: one channel per input")
        return out

    def validate(self, path: str | PathLike[str] | None = None, *, require_sha256: bool = True) -> ModelCard:
        """Return ``self`` or raise :class:`ModelFileError` listing the problems (naming ``path``)."""
        found = self.problems(require_sha256=require_sha256)
        if found:
            raise ModelFileError("invalid model card: " + "; ".join(found), path)
        return self

    # JSON -------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The card as JSON data, by the one JSON policy (:func:`LesionSegLogic.jsonfile.json_ready`)."""
        from LesionSegLogic.jsonfile import json_ready

        return json_ready(asdict(self))

    @classmethod
    def from_dict(cls, data: Any, path: str | PathLike[str] | None = None) -> ModelCard:
        """Build and validate a card from parsed JSON; any problem is a :class:`ModelFileError`."""
        if not isinstance(data, dict):
            raise ModelFileError("a model card must be a JSON object", path)
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ModelFileError(f"invalid model card: unknown field(s) {unknown}", path)
        missing = [n for n in ("name", "architecture", "inputs", "patch_size") if n not in data]
        if missing:
            raise ModelFileError(f"invalid model card: missing field(s) {missing}", path)
        if not isinstance(data["inputs"], list) or not isinstance(data["patch_size"], list):
            raise ModelFileError("invalid model card: inputs and patch_size must be lists", path)
        spacing = data.get("target_spacing")
        if spacing is not None and not isinstance(spacing, list):
            raise ModelFileError("invalid model card: target_spacing must be null or a list", path)
        try:
            card = cls(**data)
        except (TypeError, ValueError) as error:
            raise ModelFileError(f"invalid model card: {error}", path) from None
        return card.validate(path)

    @classmethod
    def from_json(cls, path: str | PathLike[str]) -> ModelCard:
        return cls.from_dict(read_card_json(path), path)

    def to_json(self, path: str | PathLike[str]) -> Path:
        """Write the card with the one atomic writer (:func:`LesionSegLogic.io.write.write_json`)."""
        from LesionSegLogic.io.write import write_json

        return write_json(path, self.to_dict(), what="model card")

    def with_updates(self, **changes: Any) -> ModelCard:
        return replace(self, **changes)


def read_card_json(path: str | PathLike[str]) -> Any:
    """The parsed JSON of a ``card.json``, read safely (:func:`LesionSegLogic.jsonfile.read_json`: at most
    :data:`MAX_CARD_BYTES`, UTF-8, nesting caught); a problem is a one-line :class:`ModelFileError` naming it."""
    return read_json(path, "model card", max_bytes=MAX_CARD_BYTES, error=ModelFileError)


def _is_number(value: Any) -> bool:
    """A finite int or float (JSON's ``NaN``/``Infinity`` literals are refused wherever a number is expected)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _increasing(values: Any, length: int | None = None) -> bool:
    """A list of finite numbers, strictly increasing (of ``length`` items when given)."""
    return (isinstance(values, list) and len(values) >= 2 and (length is None or len(values) == length)
            and all(_is_number(v) for v in values) and all(b > a for a, b in zip(values, values[1:], strict=False)))


def _nyul_problems(spec: dict[str, Any]) -> list[str]:
    """Nyúl & Udupa (1999) standardisation: landmarks (standard-scale intensities at the ``percentiles``) finite and
    strictly increasing, one per percentile; percentiles increasing within [0, 100]; ``scale`` = [s1 < s2]."""
    marks, percentiles, scale = spec.get("landmarks"), spec.get("percentiles"), spec.get("scale")
    out = []
    if not _increasing(marks):
        out.append(f"nyul landmarks must be finite, strictly increasing numbers, got {_short(marks)}")
    if not (_increasing(percentiles) and percentiles[0] >= 0 and percentiles[-1] <= 100):  # type: ignore[index]  # _increasing(percentiles) is False for None
        out.append(f"nyul percentiles must increase within [0, 100], got {_short(percentiles)}")
    elif isinstance(marks, list) and len(marks) != len(percentiles):  # type: ignore[arg-type]  # lists here (checked just above)
        out.append(f"nyul needs one landmark per percentile, got {len(marks)} and {len(percentiles)}")  # type: ignore[arg-type]  # as above
    if not _increasing(scale, 2):
        out.append(f"nyul scale must be two finite numbers [s1, s2] with s1 < s2, got {_short(scale)}")
    return out


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (an absurd card must not make an absurd message)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
