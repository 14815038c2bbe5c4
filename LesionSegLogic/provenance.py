"""The one provenance block every export records (issue 16: "exports record the same provenance").

``lesionseg predict``'s ``summary.json``, ``lesionseg evaluate``/``sweep``'s JSON and the review export
(``LesionSegExtension/LesionSegLib/export.py``) all carry ``"provenance"`` built by :func:`provenance`::

    {"lesionseg_version": "0.1.0", "created_utc": "2026-11-29T23:40:12Z",
     "inputs": [{"role": "flair", "path": "/data/flair.nii.gz", "sha256": "…"}, …],
     "models": [{"name": "tversky", "card_sha256": "…", "card_format_version": 1, "weights_sha256": "…"}],
     "threshold": 0.95, "rule": "anima"}

* ``inputs``: every file the result was computed from, with the sha256 of its bytes. A folder (a DICOM series) gets
  the sha256 of its files' names and hashes in name order (:func:`folder_sha256`); an image that never was a file
  (a volume made in memory, e.g. in Slicer) has ``"path": null, "sha256": null``.
* ``models``: the model(s) behind the result — none when unknown (a bare probability map), several for a sweep over
  maps of different models. Cards carry no version number of their own: the sha256 of ``card.json`` identifies the
  exact card (``card_sha256``), ``card_format_version`` the card schema, ``weights_sha256`` the weights.
* ``threshold``/``rule``: the decision threshold and lesion matching rule the result used (``threshold`` is ``null``
  for a mask given as is, and for a sweep, which records its grid and best threshold beside).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from os import PathLike
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20
#: the keys of one model record, in the order they are written
MODEL_KEYS = ("name", "card_sha256", "card_format_version", "weights_sha256")


@dataclass(frozen=True)
class InputFile:
    """One input of a result: its role (``flair``, ``probability``, ``reference``…) and its file (or ``None``)."""

    role: str
    path: str | PathLike[str] | None

    def record(self) -> dict[str, Any]:
        if self.path is None:
            return {"role": self.role, "path": None, "sha256": None}
        path = Path(self.path)
        return {"role": self.role, "path": str(path.resolve()), "sha256": path_sha256(path)}


def file_sha256(path: str | PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_sha256(folder: str | PathLike[str]) -> str:
    """sha256 over ``name\\0sha256\\n`` of every file below ``folder`` (names relative, ``/``-separated, sorted):
    the same for the same files wherever the folder lies."""
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(root).as_posix()}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def path_sha256(path: str | PathLike[str]) -> str | None:
    """:func:`file_sha256` of a file, :func:`folder_sha256` of a folder, ``None`` when there is nothing there."""
    path = Path(path)
    if path.is_dir():
        return folder_sha256(path)
    return file_sha256(path) if path.is_file() else None


def model_record(name: str | None, *, card_path: str | PathLike[str] | None = None,
                 card_format_version: int | None = None, weights_sha256: str | None = None) -> dict[str, Any]:
    """One entry of ``models``: the card's name, the sha256 of its ``card.json`` (when there is one), its format
    version and the weights' sha256 (``None`` for what is not known)."""
    card = None if card_path is None else Path(card_path)
    return {"name": name, "card_sha256": file_sha256(card) if card is not None and card.is_file() else None,
            "card_format_version": card_format_version, "weights_sha256": weights_sha256 or None}


def card_file_of(model_path: str | PathLike[str] | None) -> Path | None:
    """The ``card.json`` of a model folder, or the one beside a model file (ONNX); ``None`` when there is none."""
    from LesionSegLogic.zoo.card import CARD_FILE

    if model_path is None:
        return None
    path = Path(model_path)
    card = path / CARD_FILE if path.is_dir() else path.parent / CARD_FILE
    return card if card.is_file() else None


def recorded_model(map_path: str | PathLike[str] | None) -> dict[str, Any] | None:
    """The model record of the ``summary.json`` ``lesionseg predict`` wrote beside ``map_path`` (its provenance, or
    for an older summary its ``model`` block); ``None`` when there is none or it cannot be read."""
    from LesionSegLogic.defaults import PREDICTION_MAPS, SUMMARY_FILE
    from LesionSegLogic.errors import LesionSegError
    from LesionSegLogic.jsonfile import read_json

    if map_path is None or Path(map_path).name not in PREDICTION_MAPS:
        return None
    summary_path = Path(map_path).parent / SUMMARY_FILE
    if not summary_path.is_file():
        return None
    try:
        summary = read_json(summary_path, "prediction summary")
    except LesionSegError:
        return None
    if not isinstance(summary, dict):
        return None
    models = (summary.get("provenance") or {}).get("models") if isinstance(summary.get("provenance"), dict) else None
    if isinstance(models, list) and len(models) == 1 and isinstance(models[0], dict):
        return {key: models[0].get(key) for key in MODEL_KEYS}
    model = summary.get("model")
    if isinstance(model, dict) and model.get("name"):
        return model_record(str(model["name"]), weights_sha256=model.get("weights_sha256"))
    return None


def distinct_models(records: Iterable[dict[str, Any] | None]) -> list[dict[str, Any]]:
    """The distinct non-``None`` model records, in first-seen order."""
    out: list[dict[str, Any]] = []
    for record in records:
        if record is not None and record not in out:
            out.append(record)
    return out


def utc_now() -> str:
    """The current UTC time as ISO 8601 to the second, ``Z``-suffixed."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def provenance(inputs: Iterable[InputFile], *, models: Iterable[dict[str, Any] | None] = (),
               threshold: float | None, rule: str | None) -> dict[str, Any]:
    """The provenance block (see the module docstring); hashes every input file now."""
    from LesionSegLogic import __version__

    return {
        "lesionseg_version": __version__,
        "created_utc": utc_now(),
        "inputs": [item.record() for item in inputs],
        "models": distinct_models(models),
        "threshold": None if threshold is None else float(threshold),
        "rule": rule,
    }


def input_files(paths: Mapping[str, str | PathLike[str] | None]) -> list[InputFile]:
    """:class:`InputFile` for each ``role → path`` given (``None`` paths kept: an in-memory image)."""
    return [InputFile(role, path) for role, path in paths.items()]
