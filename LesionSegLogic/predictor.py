"""One prediction, nnU-Net style in separate steps: ``preprocess`` → ``predict`` → ``export``.

* **check** — the images given must be exactly those the card reads (:meth:`ModelCard.images_needed`: a cord
  model of the zoo v2 reads the T2-w image only, no FLAIR): a missing one is an error naming the model; one the
  model does not take (a baseline for a cross-sectional model) is an error naming the file and the model, unless
  ``PredictSettings(ignore_extra_inputs=True)`` (``lesionseg predict --ignore-extra-inputs``), which drops it with
  a warning recorded in ``summary.json`` (``ignored_inputs``). The image's anatomy (the user's ``anatomy`` or
  :func:`LesionSegLogic.anatomy.guess_anatomy`) is compared with the card's: a mismatch is a warning
  (``Prediction.warnings`` and ``summary["warnings"]``), not an error.
* **preprocess** — put the other images on the grid image's grid (:meth:`ModelCard.grid_image`: the FLAIR when
  the model reads one, else its T2; called "the FLAIR" below) (``resample.align_inputs``), resample to the card's
  ``target_spacing`` (``resample.resample_to_spacing``, linear), compute the foreground mask on the FLAIR
  (``preprocessing.foreground_mask``; used to skip empty windows) and normalise each channel as the card says
  (``zscore-foreground``/``zscore``: ``preprocessing.zscore_normalise`` exactly as in training; ``nyul``: the
  card's landmarks then a z-score; ``none``). Channels are stacked in the card's ``inputs`` order;
  ``difference`` is normalised FLAIR minus normalised baseline (Perera et al. 2025).
* **predict** — :func:`LesionSegLogic.inference.predict_volume` on the model grid.
* **export** — the probability resampled (linear) back onto the FLAIR's own grid, so it overlays the input
  exactly; the mask at the card's recommended threshold unless overridden (``p ≥ t``, lesions as the threshold
  engine counts them under the matching rule — :data:`LesionSegLogic.defaults.DEFAULT_RULE` unless overridden —
  which ``summary.json`` records as ``settings.rule``); ``lesions.csv`` (centroids in RAS mm, the one CSV
  convention: :data:`LesionSegLogic.metrics.report.CENTROID_COLUMNS`); ``summary.json`` (with the provenance block
  of :mod:`LesionSegLogic.provenance`: input files and their sha256, model card, threshold, rule, version, UTC
  time). ``phase`` callbacks hear :data:`RUN_PHASES` as each starts. The four files are
  written into a staging folder and moved into place, ``summary.json`` last, so a folder with ``summary.json`` is
  complete and a failure or cancel leaves none of them.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from LesionSegLogic.anatomy import ANATOMIES, anatomy_warning
from LesionSegLogic.defaults import DEFAULT_RULE, PREDICTION_MAPS, RULE_NAMES, SUMMARY_FILE, card_rule
from LesionSegLogic.errors import InputError, OutputError
from LesionSegLogic.image import Image
from LesionSegLogic.inference import CancelToken, Progress, predict_volume
from LesionSegLogic.jsonfile import json_text
from LesionSegLogic.metrics.report import CENTROID_COLUMNS, lps_to_ras
from LesionSegLogic.provenance import card_file_of, input_files, model_record, provenance
from LesionSegLogic.zoo import ModelCard
from LesionSegLogic.zoo.card import CONTRAST_IMAGES, IMAGE_ROLES

OUTPUT_FILES = (*PREDICTION_MAPS, "lesions.csv", SUMMARY_FILE)
#: card input name → the image that supplies it (``difference`` is computed from flair and baseline)
_SOURCES = {contrast: images[0] for contrast, images in CONTRAST_IMAGES.items() if len(images) == 1}
#: the columns of ``lesions.csv``; centroids in RAS mm (the one CSV convention, :data:`CENTROID_COLUMNS`)
LESION_CSV_COLUMNS = (
    "id", "n_voxels", "volume_mm3", *CENTROID_COLUMNS,
    "centroid_i", "centroid_j", "centroid_k", "max_probability", "mean_probability",
)  # fmt: skip
#: the phases :meth:`Predictor.run` reports to its ``phase`` callback, in order (``lesionseg predict`` adds
#: :data:`WRITE_PHASE` when it writes the files)
RUN_PHASES = ("reading", "preprocessing", "windows", "export")
WRITE_PHASE = "writing"


@dataclass(frozen=True)
class PredictSettings:
    """How to run a model; ``None`` takes the card's default (``card.inference``, recommended threshold).

    ``rule`` counts the lesions of ``lesions.csv`` (default: the rule the card was measured under,
    :func:`LesionSegLogic.defaults.card_rule`, else :data:`LesionSegLogic.defaults.DEFAULT_RULE`);
    ``anatomy`` is the user's word on what the image shows (``None``: guessed from its field of view);
    ``ignore_extra_inputs`` drops, with a warning, images the model does not take instead of refusing them.
    """

    device: str = "auto"
    overlap: float | None = None
    fusion: str | None = None
    tta: str | None = None
    threshold: float | None = None
    skip_background: bool = True
    batch_size: int | None = None
    rule: str | None = None
    anatomy: str | None = None
    ignore_extra_inputs: bool = False
    #: nnU-Net model folders only (:mod:`LesionSegLogic.external.nnunet`): the lesion label's name in
    #: dataset.json (None: its only foreground label), the folds (None: every trained one), the checkpoint
    nnunet_label: str | None = None
    nnunet_folds: tuple[str, ...] | None = None
    nnunet_checkpoint: str = "final"

    def resolved(self, card: ModelCard) -> dict[str, Any]:
        inf = card.inference
        threshold = card.recommended_threshold if self.threshold is None else float(self.threshold)
        if not 0.0 <= threshold <= 1.0:
            raise InputError(f"threshold must be in [0, 1], got {threshold}")
        rule = card_rule(card) if self.rule is None else self.rule  # the card's rule, else DEFAULT_RULE
        if rule not in RULE_NAMES:
            raise InputError(f"unknown matching rule {rule!r}; choose one of {list(RULE_NAMES)}")
        if self.anatomy is not None and self.anatomy not in ANATOMIES:
            raise InputError(f"anatomy must be one of {list(ANATOMIES)}, got {self.anatomy!r}")
        return {
            "device": self.device,
            "overlap": float(inf.get("overlap", 0.5) if self.overlap is None else self.overlap),
            "fusion": inf.get("fusion", "gaussian") if self.fusion is None else self.fusion,
            "tta": inf.get("tta", "none") if self.tta is None else self.tta,
            "threshold": threshold,
            "threshold_source": "card" if self.threshold is None else "user",
            "skip_background": self.skip_background,
            "batch_size": self.batch_size,
            "rule": rule,
            "anatomy": self.anatomy,
            "ignore_extra_inputs": self.ignore_extra_inputs,
        }


@dataclass
class Preprocessed:
    """The model input: ``channels`` (C, z, y, x) on ``model_grid``, the FLAIR as read (``reference``), the images
    used (``inputs``: role → file), those dropped by opt-in (``ignored_inputs``) and one-line ``warnings``."""

    reference: Image
    model_grid: Image
    channels: np.ndarray
    foreground: np.ndarray
    inputs: dict[str, str]
    seconds: float
    warnings: list[str] = field(default_factory=list)
    ignored_inputs: dict[str, str] = field(default_factory=dict)
    #: role → the file each used image was read from (``None``: given as an in-memory image), for the provenance
    files: dict[str, str | None] = field(default_factory=dict)


@dataclass
class Prediction:
    probability: Image
    mask: Image
    lesions: list[dict[str, Any]]
    summary: dict[str, Any]
    outputs: dict[str, Path] = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        """What the user should know about this run (anatomy mismatch, ignored inputs); ``summary["warnings"]``."""
        return list(self.summary.get("warnings", []))


def _read(path: str | PathLike[str]) -> Image:
    from LesionSegLogic.io import read_image

    return read_image(path, role="image")


def _normalise(image: Image, spec: Mapping[str, Any]) -> np.ndarray:
    from LesionSegLogic import preprocessing as pp

    method = spec.get("method", "zscore-foreground")
    if method in ("zscore-foreground", "zscore"):
        return np.asarray(pp.zscore_normalise(image.array, name=image.name), dtype=np.float32)
    if method == "nyul":
        params = {k: v for k, v in spec.items() if k != "method"}
        standardiser = pp.NyulStandardiser.from_dict(params)
        return np.asarray(pp.normalise(image, "nyul", standardiser=standardiser).array, dtype=np.float32)
    return np.asarray(image.array, dtype=np.float32)


class Predictor:
    """A loaded model with its card; ``run`` does preprocess → predict → export for one case."""

    def __init__(self, model: nn.Module, card: ModelCard, settings: PredictSettings | None = None,
                 model_path: str = "") -> None:
        self.model = model
        self.card = card
        self.settings = settings or PredictSettings()
        self.model_path = model_path
        self.config = self.settings.resolved(card)

    @classmethod
    def load(cls, spec: str | PathLike[str], settings: PredictSettings | None = None) -> Predictor:
        """A zoo name or model folder, an nnU-Net v2 model folder or an ONNX model (``LesionSegLogic.external``)."""
        from LesionSegLogic.external import load_external_predictor
        from LesionSegLogic.zoo import load_model, resolve_model

        external = load_external_predictor(spec, settings)
        if external is not None:
            return external
        model, card = load_model(spec, device="cpu")
        return cls(model, card, settings, str(resolve_model(spec)))

    # step 1 ---------------------------------------------------------------------------------------------
    def preprocess(self, images: Mapping[str, str | PathLike[str] | Image],
                   phase: Callable[[str], None] | None = None) -> Preprocessed:
        """``images`` maps ``flair``, ``t2``, ``baseline`` (those the card reads) to paths or :class:`Image`
        objects; ``phase`` hears ``"reading"`` then ``"preprocessing"``."""
        from LesionSegLogic.preprocessing import foreground_mask
        from LesionSegLogic.resample import align_inputs, resample_to_spacing

        start = time.perf_counter()
        needed, ignored, warnings = self.check_inputs(images)
        if phase is not None:
            phase(RUN_PHASES[0])
        loaded = {k: v if isinstance(v, Image) else _read(v) for k, v in images.items()
                  if v is not None and k in needed}
        if phase is not None:
            phase(RUN_PHASES[1])
        names = {k: _label(v) for k, v in images.items() if v is not None and k in needed}
        files = {k: None if isinstance(v, Image) else str(v) for k, v in images.items()
                 if v is not None and k in needed}
        grid_role = self.card.grid_image()
        flair = loaded[grid_role]  # the output grid: the FLAIR, or the T2 of a T2-w-only model
        mismatch = (anatomy_warning(self.card.name, self.card.anatomy, flair, self.settings.anatomy)
                    if self.card.anatomy in ANATOMIES else None)  # an external model's card may not say
        if mismatch:
            warnings.append(mismatch)
        others = align_inputs(flair, {k: v for k, v in loaded.items() if k != grid_role})
        grid_images = {grid_role: flair, **others}
        target = self.card.target_spacing
        if target is not None and not np.allclose(flair.spacing, target, rtol=0, atol=1e-6):
            grid_images = {k: resample_to_spacing(v, target) for k, v in grid_images.items()}
        model_grid = grid_images[grid_role]
        normalised = {k: _normalise(v, self.card.normalisation) for k, v in grid_images.items()}
        if "difference" in self.card.inputs:
            normalised["difference"] = normalised["flair"] - normalised["baseline"]
        channels = np.stack([normalised[_SOURCES.get(c, c)] for c in self.card.inputs]).astype(np.float32)
        foreground = foreground_mask(model_grid.array)
        return Preprocessed(flair, model_grid, channels, foreground, names, time.perf_counter() - start,
                            warnings, ignored, files)

    def check_inputs(
        self, images: Mapping[str, str | PathLike[str] | Image | None]
    ) -> tuple[frozenset[str], dict[str, str], list[str]]:
        """``(images the model reads, images ignored by opt-in, warnings)``; an error for a missing image or
        one the model does not take (unless ``ignore_extra_inputs``). Nothing is read from disk."""
        unknown = sorted(k for k in images if k not in IMAGE_ROLES)
        if unknown:
            raise InputError(f"unknown image role(s) {unknown}; known: {list(IMAGE_ROLES)}")
        needed = self.card.images_needed()
        given = {k: v for k, v in images.items() if v is not None}
        takes = ", ".join(self.card.inputs)
        missing = sorted(needed - set(given))
        if missing:
            given_text = f"given: {', '.join(sorted(given))}" if given else "no image given"
            give = " ".join(f"--{role} IMAGE" for role in missing)
            raise InputError(f"model {self.card.name} needs {takes}; missing: {', '.join(missing)} ({given_text}; "
                             f"give {give})")
        extra = {k: _label(v) for k, v in given.items() if k not in needed}
        if extra and not self.settings.ignore_extra_inputs:
            role, label = next(iter(sorted(extra.items())))
            raise InputError(
                f"model {self.card.name!r} takes {takes} and no {role} image; leave it out, choose a model that "
                f"takes it, or ignore it explicitly (--ignore-extra-inputs)", label or role,
            )  # fmt: skip
        warnings = [f"ignored the {role} image {label} (model {self.card.name!r} takes {takes}; "
                    f"--ignore-extra-inputs)" for role, label in sorted(extra.items())]  # fmt: skip
        return needed, extra, warnings

    # step 2 ---------------------------------------------------------------------------------------------
    def predict(
        self,
        pre: Preprocessed,
        *,
        progress: Callable[[Progress], None] | None = None,
        cancel: CancelToken | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The probability map on the model grid, and run facts (seconds, windows, device, fallbacks)."""
        c = self.config
        last: list[Progress] = []
        messages: list[str] = []

        def on_progress(p: Progress) -> None:
            last[:] = [p]
            if progress is not None:
                progress(p)

        def on_notify(message: str) -> None:
            messages.append(message)
            if notify is not None:
                notify(message)

        start = time.perf_counter()
        probability = predict_volume(
            self.model, pre.channels, patch_size=self.card.patch_size, overlap=c["overlap"],
            fusion=c["fusion"], tta=c["tta"], device=c["device"],
            skip_background=pre.foreground if c["skip_background"] else False,
            batch_size=c["batch_size"], progress=on_progress, cancel=cancel, notify=on_notify,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        params = next(iter(self.model.parameters()), None)
        device = str(params.device) if params is not None else c["device"]
        windows = last[0].total if last else 0
        facts = {"predict_s": seconds, "windows": windows, "device": device, "fallbacks": messages,
                 "windows_per_s": windows / seconds if seconds > 0 else None}
        return probability, facts

    # step 3 ---------------------------------------------------------------------------------------------
    def export(
        self, pre: Preprocessed, probability: np.ndarray, facts: Mapping[str, Any],
        out_dir: str | PathLike[str] | None,
    ) -> Prediction:
        """Back onto the FLAIR grid, threshold, lesion table, summary; written atomically when ``out_dir``."""
        start = time.perf_counter()
        prob_image = self.on_input_grid(pre, probability)
        threshold = self.config["threshold"]
        mask, rows = lesion_table(prob_image, threshold, self.config["rule"])
        mask_image = pre.reference.with_array(mask.astype(np.uint8), name="")
        summary = {
            "model": {"name": self.card.name, "path": self.model_path, "architecture": self.card.architecture,
                      "loss": self.card.loss, "inputs": list(self.card.inputs), "anatomy": self.card.anatomy,
                      "weights_sha256": self.card.weights_sha256,
                      "recommended_threshold": self.card.recommended_threshold, "note": self.card.note},
            "inputs": pre.inputs,
            "ignored_inputs": dict(pre.ignored_inputs),
            "warnings": list(pre.warnings),
            "settings": {**self.config, "patch_size": list(self.card.patch_size),
                         "target_spacing": None if self.card.target_spacing is None
                         else list(self.card.target_spacing)},
            "device": facts.get("device"),
            "device_fallbacks": list(facts.get("fallbacks", [])),
            "windows": facts.get("windows"),
            "windows_per_s": facts.get("windows_per_s"),
            "grid": {"input_shape_zyx": list(pre.reference.shape), "model_shape_zyx": list(pre.model_grid.shape),
                     "input_spacing_zyx": list(pre.reference.spacing)},
            "lesions": {"count": len(rows), "total_volume_mm3": float(sum(r["volume_mm3"] for r in rows))},
            "provenance": provenance(input_files(pre.files), models=[self.model_identity()], threshold=threshold,
                                     rule=self.config["rule"]),
            "timings_s": {"preprocess": pre.seconds, "predict": facts.get("predict_s"),
                          "export": time.perf_counter() - start},
        }  # fmt: skip
        result = Prediction(prob_image, mask_image, rows, summary)
        if out_dir is not None:
            result.outputs = write_outputs(result, Path(out_dir), protect=list(pre.inputs.values()))
        return result

    @staticmethod
    def on_input_grid(pre: Preprocessed, probability: np.ndarray) -> Image:
        """The model-grid probability resampled (linear) onto the grid image's own grid, clipped to [0, 1]: the map
        ``export`` writes (and ``scripts/finalise_zoo.py`` measures)."""
        from LesionSegLogic.resample import resample_to

        on_grid = pre.model_grid.with_array(probability.astype(np.float32), name="probability")
        back = resample_to(on_grid, pre.reference, interpolation="linear")
        return pre.reference.with_array(np.clip(np.asarray(back.array, dtype=np.float32), 0.0, 1.0), name="")

    def model_identity(self) -> dict[str, Any]:
        """The model record of the provenance (:func:`LesionSegLogic.provenance.model_record`)."""
        return model_record(self.card.name, card_path=card_file_of(self.model_path),
                            card_format_version=self.card.format_version, weights_sha256=self.card.weights_sha256)

    def run(
        self, images: Mapping[str, str | PathLike[str] | Image], out_dir: str | PathLike[str] | None = None, *,
        progress: Callable[[Progress], None] | None = None, cancel: CancelToken | None = None,
        notify: Callable[[str], None] | None = None, phase: Callable[[str], None] | None = None,
    ) -> Prediction:
        """preprocess → predict → export for one case; ``phase`` hears each of :data:`RUN_PHASES` as it starts."""
        start = time.perf_counter()
        pre = self.preprocess(images, phase)
        for warning in pre.warnings:
            if notify is not None:
                notify(f"warning: {warning}")
        if phase is not None:
            phase(RUN_PHASES[2])
        probability, facts = self.predict(pre, progress=progress, cancel=cancel, notify=notify)
        if cancel is not None:
            cancel.raise_if_cancelled()
        if phase is not None:
            phase(RUN_PHASES[3])
        result = self.export(pre, probability, facts, None)
        result.summary["timings_s"]["total"] = time.perf_counter() - start
        if out_dir is not None:
            result.outputs = write_outputs(result, Path(out_dir), protect=list(pre.inputs.values()))
        return result


def lesion_table(
    probability: Image, threshold: float, rule: str = DEFAULT_RULE
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Mask ``p ≥ threshold`` and one row per lesion (connected component) as the threshold engine counts them.

    Uses :class:`LesionSegLogic.threshold.ThresholdEngine` under ``rule`` (its connectivity and minimum size;
    the review's default rule unless told).
    """
    from LesionSegLogic.threshold import ThresholdEngine

    state = ThresholdEngine(probability, rule=rule).at(threshold)
    mask = np.asarray(state.mask, dtype=bool)
    rows = [_row(probability, r.n_voxels, np.asarray(r.centroid_zyx), r.max_probability, r.mean_probability)
            for r in state.predicted()]
    for i, row in enumerate(rows, start=1):
        row["id"] = i
    return mask, rows


def _label(value: str | PathLike[str] | Image) -> str:
    return value.name if isinstance(value, Image) else str(value)


def _row(image: Image, n: int, zyx: np.ndarray, pmax: float | None, pmean: float | None) -> dict[str, Any]:
    ras = lps_to_ras(image.index_to_physical(zyx)[0])
    return {
        "id": 0, "n_voxels": int(n), "volume_mm3": float(n * image.voxel_volume),
        **dict(zip(CENTROID_COLUMNS, ras, strict=True)),
        "centroid_i": float(zyx[2]), "centroid_j": float(zyx[1]), "centroid_k": float(zyx[0]),
        "max_probability": None if pmax is None else float(pmax),
        "mean_probability": None if pmean is None else float(pmean),
    }  # fmt: skip


def write_outputs(result: Prediction, out_dir: Path, protect: list[str] | None = None) -> dict[str, Path]:
    """Write the four outputs via a staging folder inside ``out_dir``; ``summary.json`` is moved last."""
    from LesionSegLogic.io import write_image
    from LesionSegLogic.io.write import staged_outputs
    from LesionSegLogic.io.write_policy import remove_stale_staging

    protect = [str(p) for p in (protect or []) if p]
    targets = {name: out_dir / name for name in OUTPUT_FILES}
    protected = {Path(p).resolve() for p in protect}
    for target in targets.values():
        if target.resolve() in protected:
            raise OutputError(f"{target}: refusing to overwrite an input")
    remove_stale_staging(out_dir)  # the debris of a killed earlier run (docs/io.md)
    with staged_outputs([targets[name] for name in OUTPUT_FILES], what="outputs") as staging:
        write_image(result.probability, staging / "probability.nii.gz", dtype="float32", protect=protect)
        write_image(result.mask, staging / "mask.nii.gz", dtype="uint8", protect=protect)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=LESION_CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in result.lesions:
            writer.writerow({k: ("" if row[k] is None else row[k]) for k in LESION_CSV_COLUMNS})
        (staging / "lesions.csv").write_text(buffer.getvalue(), encoding="utf-8")
        (staging / "summary.json").write_text(json_text(result.summary), encoding="utf-8")  # moved last
    return targets


def is_done(out_dir: str | PathLike[str]) -> bool:
    """True when ``out_dir`` holds a complete prediction (``summary.json`` is written last)."""
    return all((Path(out_dir) / name).is_file() for name in OUTPUT_FILES)


__all__ = [
    "OUTPUT_FILES", "RUN_PHASES", "WRITE_PHASE", "PredictSettings", "Prediction", "Predictor", "Preprocessed",
    "is_done", "lesion_table",
    "write_outputs",
]  # fmt: skip
