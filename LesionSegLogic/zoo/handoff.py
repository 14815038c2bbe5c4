"""A trained run handed over for the zoo: ``<runs>/<set>/<name>/{model.safetensors, train.json}`` (issue 12).

The zoo v2 is trained elsewhere (``scripts/zoo_device.py`` on a lent GPU, or ``scripts/train_zoo.py`` on the CPU);
each run leaves its weights (safetensors, float32 or float16) and a ``train.json``: the training configuration
(:class:`LesionSegLogic.training.config.TrainConfig` as a dict), the set, task, anatomy and card inputs, the loss
and its parameters, iterations, best validation loss and loss curve, device, wall time, git commit and the data's
generator settings and seeds. :func:`read_run` reads one and :meth:`TrainedRun.card` turns it into a model card
(without held-out metrics: ``scripts/finalise_zoo.py`` measures and adds them). The card's task, anatomy and
images are its set's (:data:`LesionSegLogic.zoo.sets.ZOO_SETS`); a run whose anatomy or images disagree is
refused. Key names vary a little between writers; the few alternatives are listed once in :data:`_ALIASES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from LesionSegLogic.errors import ModelFileError
from LesionSegLogic.jsonfile import read_json
from LesionSegLogic.zoo.card import WEIGHTS_FILE, ModelCard
from LesionSegLogic.zoo.sets import ZooSet, get_set

TRAIN_FILE = "train.json"
DONE_FILE = "DONE"
#: provenance field → the keys a ``train.json`` may use for it (first found wins)
_ALIASES: dict[str, tuple[str, ...]] = {
    "iterations": ("iterations", "iterations_done", "iters", "steps"),
    "best_validation_loss": ("best_validation_loss", "best_val_loss", "val_loss"),
    "loss_curve": ("loss_curve", "curve", "losses"),
    "device": ("device", "device_name", "gpu"),
    "wall_seconds": ("wall_seconds", "wall_s", "wall_time_s", "seconds", "train_seconds"),
    "commit": ("commit", "git_commit"),
    "data": ("data", "generator", "data_settings"),
    "weights_dtype": ("weights_dtype", "dtype"),
}
#: the inference defaults written into every zoo v2 card (the predictor's defaults; ``lesionseg predict`` overrides)
INFERENCE = {"overlap": 0.5, "fusion": "gaussian", "tta": "none"}


@dataclass(frozen=True)
class TrainedRun:
    """One handed-over run: its folder, set, name (the loss, as trained) and parsed ``train.json``."""

    folder: Path
    zoo_set: ZooSet
    run_name: str
    info: dict[str, Any]

    @property
    def zoo_name(self) -> str:
        return self.zoo_set.model_name(self.run_name)

    @property
    def weights(self) -> Path:
        return self.folder / WEIGHTS_FILE

    @property
    def config(self) -> dict[str, Any]:
        config = self.info.get("config")
        return config if isinstance(config, dict) else {}

    def get(self, field: str, default: Any = None) -> Any:
        """A provenance value by its card name (:data:`_ALIASES`), from ``train.json`` or its config."""
        for key in _ALIASES.get(field, (field,)):
            for source in (self.info, self.config):
                if key in source:
                    return source[key]
        return default

    def inputs(self) -> tuple[str, ...]:
        inputs = self.info.get("inputs") or self.config.get("contrasts")
        if not isinstance(inputs, list | tuple) or not inputs:
            raise ModelFileError("train.json names no inputs (inputs or config.contrasts)", self.folder / TRAIN_FILE)
        return tuple(str(i) for i in inputs)

    def provenance(self) -> dict[str, Any]:
        """The card's ``training`` block: commit, configuration, data (generator settings, seeds, subjects),
        iterations, device, wall time, best validation loss, loss curve, weights dtype; for a run continued from an
        earlier one, ``warm_start`` (where from, its iterations, device, wall time, commit) and the iterations of
        this run."""
        out = {field: self.get(field) for field in _ALIASES}
        out["config"] = self.config
        out["set"] = self.zoo_set.name
        out["run"] = self.run_name
        out["trainer_task"] = self.info.get("task")  # the trainer's word; the card's task is the set's
        if isinstance(self.info.get("warm_start"), dict):  # continued from an earlier run (`zoo_device.py --init`)
            out["warm_start"] = self.info["warm_start"]
            out["iterations_this_run"] = self.info.get("iterations_this_run")
        return out

    def card(self) -> ModelCard:
        """The model card of this run with the set's task and anatomy, before measuring (threshold 0.5)."""
        config = self.config
        inputs = self.inputs()
        params = dict(config.get("model_params") or self.info.get("model_params") or {})
        loss = str(self.info.get("loss") or config.get("loss") or self.run_name)
        loss_params = self.info.get("loss_params", config.get("loss_params", {}))
        estimator = self.info.get("lf1_estimator") or config.get("lf1_estimator")
        if estimator:  # Dice + w·(1 − LF1̂) (Kamraoui et al. 2021): named as the v1 zoo and `lesionseg train` name it
            weight = estimator.get("weight") if isinstance(estimator, dict) else config.get("lf1_weight")
            loss, loss_params = f"{loss}+lf1", {"base": loss, "base_params": loss_params, "lf1_weight": weight}
        patch = config.get("patch_size") or self.info.get("patch_size")
        if not patch:
            raise ModelFileError("train.json gives no patch_size", self.folder / TRAIN_FILE)
        anatomy = self.info.get("anatomy", self.zoo_set.anatomy)
        if anatomy != self.zoo_set.anatomy:
            raise ModelFileError(f"train.json says anatomy {anatomy!r} but the run is in set {self.zoo_set.name!r} "
                                 f"({self.zoo_set.anatomy})", self.folder / TRAIN_FILE)
        card = ModelCard(
            name=self.zoo_name, architecture=str(config.get("architecture", "unet3d")),
            architecture_params={"in_channels": len(inputs), **params}, inputs=inputs,
            patch_size=tuple(int(p) for p in patch), task=self.zoo_set.task, anatomy=anatomy, loss=loss,  # type: ignore[arg-type]  # three axes
            loss_params=dict(loss_params) if isinstance(loss_params, dict) else {},
            target_spacing=_rounded(config.get("target_spacing")), inference=dict(INFERENCE),
            training=self.provenance(), command=f"python scripts/finalise_zoo.py --set {self.zoo_set.name}",
        )  # fmt: skip
        if not self.zoo_set.holds(card):
            raise ModelFileError(f"the card's images {sorted(card.images_needed())} are not those of set "
                                 f"{self.zoo_set.name!r} {sorted(self.zoo_set.images)}", self.folder / TRAIN_FILE)
        return card.validate(self.folder / TRAIN_FILE, require_sha256=False)


def _rounded(spacing: Any) -> Any:
    """A spacing read back from a float32 header (0.6000000238 mm) as the µm it means; anything else unchanged."""
    if isinstance(spacing, list | tuple) and all(isinstance(v, int | float) for v in spacing):
        return tuple(round(float(v), 4) for v in spacing)
    return spacing


def read_run(folder: str | PathLike[str]) -> TrainedRun:
    """The run in ``<runs>/<set>/<name>/``; a one-line :class:`ModelFileError` naming the file when it is unusable."""
    folder = Path(folder)
    if not (folder / WEIGHTS_FILE).is_file():
        raise ModelFileError(f"no {WEIGHTS_FILE} in the run folder", folder)
    info = read_json(folder / TRAIN_FILE, TRAIN_FILE, error=ModelFileError)
    if not isinstance(info, dict):
        raise ModelFileError("train.json is not a JSON object", folder / TRAIN_FILE)
    set_name = str(info.get("set", folder.parent.name))
    try:
        zoo_set = get_set(set_name)
    except KeyError as error:
        raise ModelFileError(str(error.args[0]), folder / TRAIN_FILE) from None
    return TrainedRun(folder, zoo_set, folder.name, info)


def find_runs(root: str | PathLike[str], sets: tuple[str, ...] | None = None) -> list[Path]:
    """Every ``<root>/<set>/<name>/`` holding a ``train.json`` (of ``sets`` when given), sorted."""
    root = Path(root)
    return [p.parent for p in sorted(root.glob(f"*/*/{TRAIN_FILE}"))
            if sets is None or p.parent.parent.name in sets]


__all__ = ["DONE_FILE", "INFERENCE", "TRAIN_FILE", "TrainedRun", "find_runs", "read_run"]
