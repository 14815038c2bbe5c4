"""The study configuration: dataclasses read from one JSON or TOML file and validated before any training.

A study (issue 14) trains one network per (loss, seed, fold) and compares the losses at 0.5 and at the decision
threshold chosen on a threshold-optimisation set, as Hussein et al. (2023) do; the same seed gives the
same initial weights and the same batches for every loss (Cabezas & Diez 2024). The file has the
sections ``data``, ``splits``, ``losses``, ``training``, ``seeds``, ``thresholds``, ``objective``, ``rule``,
``inference`` and ``significance`` (see ``docs/study.md``); every problem becomes one :class:`ConfigError` naming
the file before anything is trained.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from LesionSegLogic.errors import ConfigError

#: what the study may not take from ``training``: the study sets them per job (data, output, loss, seed)
#: or fixes them (the maps must lie on the images' own grid, so ``target_spacing`` stays unset).
STUDY_OWNED_TRAINING_FIELDS = ("data", "out", "loss", "loss_params", "seed", "target_spacing", "command",
                               "progress", "lf1_estimator")  # fmt: skip


@dataclass(frozen=True)
class PhantomData:
    """Phantom generator settings (:func:`LesionSegLogic.phantom.generate_case`) for every subject."""

    anatomy: str = "brain"
    spacing: tuple[float, float, float] | None = None
    fov_mm: tuple[float, float, float] | None = None
    n_lesions: int | None = None
    snr: float | None = None
    seed: int = 0


@dataclass(frozen=True)
class DataConfig:
    """Where the subjects come from: ``phantom`` settings or a ``folder`` (phantom layout or manifest)."""

    phantom: PhantomData | None = None
    folder: str | None = None
    contrasts: tuple[str, ...] = ("flair", "t2")
    mask_name: str = "lesions"


@dataclass(frozen=True)
class SplitConfig:
    """Subject-level splits (Hussein et al. 2023's four sets). Counts are subjects **with** lesions; ``lesion_free_*``
    lesion-free subjects are added to the threshold-optimisation and unseen sets (phantom data; in a folder every
    lesion-free subject goes to those two sets) for patient-level specificity. ``folds`` > 1: k-fold over the
    development subjects (training + validation + threshold-optimisation), the unseen set fixed."""

    train: int = 8
    validation: int = 2
    threshold: int = 4
    test: int = 4
    lesion_free_threshold: int = 2
    lesion_free_test: int = 2
    folds: int = 1
    seed: int = 0


@dataclass(frozen=True)
class LossSpec:
    """One arm of the study: a registered loss, its parameters, a unique ``label`` and optionally its own
    optimiser (Hussein et al. 2023 trains Combo with Adadelta)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    optimiser: str | None = None

    @property
    def key(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class ThresholdGrid:
    """The decision thresholds swept: ``0, step, …, 1`` (Hussein et al. 2023: step 0.05) unless ``values`` is given."""

    step: float = 0.05
    values: tuple[float, ...] | None = None

    def grid(self) -> list[float]:
        if self.values is not None:
            return [float(v) for v in self.values]
        from LesionSegLogic.threshold.sweep import threshold_grid

        return [float(t) for t in threshold_grid(self.step)]


@dataclass(frozen=True)
class InferenceConfig:
    """How the whole-volume maps are made (Hussein et al. 2023: 75 % overlap, averaged patches)."""

    overlap: float = 0.5
    fusion: str = "gaussian"


@dataclass(frozen=True)
class StudyConfig:
    """Everything that defines a study. ``training`` holds :class:`~LesionSegLogic.training.config.TrainConfig`
    fields shared by every job (architecture, recipe); ``significance`` is the Wilcoxon level
    (Hussein et al. 2023: 0.05)."""

    name: str = "study"
    data: DataConfig = field(default_factory=DataConfig)
    splits: SplitConfig = field(default_factory=SplitConfig)
    losses: tuple[LossSpec, ...] = ()
    training: dict[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    thresholds: ThresholdGrid = field(default_factory=ThresholdGrid)
    objective: str = "voxel-f1"
    rule: str = ""
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    significance: float = 0.05
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("source")
        return json.loads(json.dumps(d))

    def loss_keys(self) -> list[str]:
        return [loss.key for loss in self.losses]


# parsing ------------------------------------------------------------------------------------------------------
def _section(cls: type, raw: Any, where: str, source: str) -> Any:
    """``cls(**raw)`` with unknown keys and wrong shapes reported as one :class:`ConfigError`."""
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: '{where}' must be a table/object, got {type(raw).__name__}")
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in '{where}': {', '.join(unknown)}; accepted: {', '.join(names)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{source}: bad '{where}' ({error})") from None


def config_from_dict(raw: dict[str, Any], source: str = "<config>") -> StudyConfig:
    """Parse (not yet validate) a study description."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a study config must be a JSON object / TOML table")
    top = {f.name for f in fields(StudyConfig)} - {"source"}
    unknown = sorted(set(raw) - top)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; accepted: {', '.join(sorted(top))}")
    data_raw = dict(raw.get("data") or {})
    phantom = data_raw.pop("phantom", None)
    data = _section(DataConfig, data_raw, "data", source)
    if phantom is not None:
        data = DataConfig(_section(PhantomData, phantom, "data.phantom", source), data.folder, data.contrasts,
                          data.mask_name)
    losses_raw = raw.get("losses") or []
    if not isinstance(losses_raw, list):
        raise ConfigError(f"{source}: 'losses' must be a list of {{name, params, label, optimiser}}")
    losses = tuple(
        _section(LossSpec, {"name": item} if isinstance(item, str) else item, f"losses[{i}]", source)
        for i, item in enumerate(losses_raw)
    )
    seeds = raw.get("seeds", [0])
    if isinstance(seeds, int):
        seeds = [seeds]
    training = raw.get("training") or {}
    if not isinstance(training, dict):
        raise ConfigError(f"{source}: 'training' must be a table/object of training options")
    return StudyConfig(
        name=str(raw.get("name", "study")),
        data=data,
        splits=_section(SplitConfig, raw.get("splits"), "splits", source),
        losses=losses,
        training=dict(training),
        seeds=tuple(seeds) if isinstance(seeds, list | tuple) else seeds,
        thresholds=_section(ThresholdGrid, raw.get("thresholds"), "thresholds", source),
        objective=raw.get("objective", "voxel-f1"),
        rule=raw.get("rule", ""),
        inference=_section(InferenceConfig, raw.get("inference"), "inference", source),
        significance=raw.get("significance", 0.05),
        source=source,
    )


def read_raw(path: str | Path) -> dict[str, Any]:
    """The parsed content of a ``.json`` or ``.toml`` study file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: study config not found")
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".toml":
            import tomllib

            raw = tomllib.loads(text)
        else:
            raw = json.loads(text)
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: cannot read the study config ({error})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a study config must be a JSON object / TOML table")
    return raw


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` laid over it, tables merged key by key, lists and values replaced."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def read_config(path: str | Path | None = None, preset: str | None = None) -> StudyConfig:
    """A study from a file, a bundled preset (:mod:`LesionSegLogic.study.presets`), or a preset with a file's
    settings laid over it (a file that sets ``data.folder`` replaces the preset's phantom data). Not validated."""
    from LesionSegLogic.study.presets import preset_dict

    if path is None and preset is None:
        raise ConfigError("a study needs a CONFIG file or --preset")
    base = preset_dict(preset) if preset else {}
    raw = read_raw(path) if path is not None else {}
    if "folder" in (raw.get("data") or {}) and isinstance(base.get("data"), dict):
        base = {**base, "data": {k: v for k, v in base["data"].items() if k != "phantom"}}
    source = str(path) if path is not None else f"preset {preset}"
    return config_from_dict(merged(base, raw), source)


# validation ---------------------------------------------------------------------------------------------------
def _fail(config: StudyConfig, problem: str) -> ConfigError:
    return ConfigError(f"{config.source or '<config>'}: {problem}")


def resolved_rule(config: StudyConfig) -> str:
    """The configured matching rule, else :data:`LesionSegLogic.defaults.DEFAULT_RULE`."""
    from LesionSegLogic.defaults import DEFAULT_RULE

    return config.rule or DEFAULT_RULE


def validate(config: StudyConfig) -> StudyConfig:
    """Check everything that can be checked without data; raise one :class:`ConfigError` on the first problem."""
    from LesionSegLogic.defaults import RULE_NAMES
    from LesionSegLogic.losses import available_losses, build_loss
    from LesionSegLogic.phantom import ANATOMIES
    from LesionSegLogic.threshold.sweep import OBJECTIVES
    from LesionSegLogic.training.config import OPTIMISERS, TrainConfig

    data = config.data
    if (data.phantom is None) == (data.folder is None):
        raise _fail(config, "'data' needs exactly one of 'phantom' (generator settings) or 'folder'")
    if data.phantom is not None and data.phantom.anatomy not in ANATOMIES:
        raise _fail(config, f"unknown phantom anatomy {data.phantom.anatomy!r}; choose one of {', '.join(ANATOMIES)}")
    if not config.losses:
        raise _fail(config, f"no losses; list some of: {', '.join(available_losses())}")
    keys = config.loss_keys()
    if len(set(keys)) != len(keys):
        raise _fail(config, f"loss labels must be unique, got {keys}; give repeated losses a 'label'")
    for spec in config.losses:
        if spec.name not in available_losses():
            raise _fail(config, f"unknown loss {spec.name!r}; available: {', '.join(available_losses())}")
        if spec.optimiser is not None and spec.optimiser not in OPTIMISERS:
            raise _fail(config, f"loss {spec.key}: optimiser must be one of {OPTIMISERS}")
        if not all(ch.isalnum() or ch in "_-." for ch in spec.key):
            raise _fail(config, f"loss label {spec.key!r} must be letters, digits, '_', '-' or '.'")
        try:
            build_loss(spec.name, **dict(spec.params))
        except (TypeError, ValueError, ConfigError) as error:
            raise _fail(config, f"loss {spec.key}: bad parameters {dict(spec.params)} ({error})") from None
    owned = sorted(set(config.training) & set(STUDY_OWNED_TRAINING_FIELDS))
    if owned:
        raise _fail(config, f"'training' may not set {', '.join(owned)} (the study sets them per job)")
    try:
        TrainConfig.from_dict({**config.training, "contrasts": list(data.contrasts)})
    except (TypeError, ValueError) as error:
        raise _fail(config, f"bad 'training' option ({error})") from None
    if not config.seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in config.seeds):
        raise _fail(config, f"'seeds' must be a non-empty list of integers, got {list(config.seeds)}")
    if len(set(config.seeds)) != len(config.seeds):
        raise _fail(config, f"'seeds' repeats a seed: {list(config.seeds)}")
    grid = config.thresholds
    if grid.values is not None:
        if not grid.values:
            raise _fail(config, "the threshold grid is empty ('thresholds.values' = [])")
        if not all(isinstance(v, int | float) and math.isfinite(v) and 0 <= v <= 1 for v in grid.values):
            raise _fail(config, f"thresholds must lie in [0, 1], got {list(grid.values)}")
    elif not (isinstance(grid.step, int | float) and 0 < grid.step <= 1):
        raise _fail(config, f"the threshold grid is empty: 'thresholds.step' must lie in (0, 1], got {grid.step}")
    if 0.5 not in [round(t, 10) for t in grid.grid()]:
        raise _fail(config, "the threshold grid must contain 0.5 (Table 1 compares against it)")
    if config.objective not in OBJECTIVES:
        raise _fail(config, f"unknown objective {config.objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if resolved_rule(config) not in RULE_NAMES:
        raise _fail(config, f"unknown matching rule {config.rule!r}; choose one of {', '.join(RULE_NAMES)}")
    if not 0 < config.significance < 1:
        raise _fail(config, f"'significance' must lie in (0, 1), got {config.significance}")
    if not 0 <= config.inference.overlap < 1:
        raise _fail(config, f"'inference.overlap' must lie in [0, 1), got {config.inference.overlap}")
    _validate_splits(config)
    return config


def _validate_splits(config: StudyConfig) -> None:
    s = config.splits
    counts = {k: getattr(s, k) for k in ("train", "validation", "threshold", "test", "lesion_free_threshold",
                                         "lesion_free_test", "folds")}
    bad = [k for k, v in counts.items() if not isinstance(v, int) or isinstance(v, bool) or v < 0]
    if bad:
        raise _fail(config, f"split counts must be non-negative integers: {', '.join(bad)}")
    for k in ("train", "validation", "threshold", "test"):
        if counts[k] < 1:
            raise _fail(config, f"impossible split: '{k}' needs at least one subject with lesions")
    if s.folds < 1:
        raise _fail(config, "impossible split: 'folds' must be at least 1")
    if s.folds > 1:
        development = s.train + s.validation + s.threshold
        if development < 2 * s.folds:
            raise _fail(config, f"impossible split: {development} development subjects (train + validation + "
                                f"threshold) cannot make {s.folds} folds (each needs a validation and a "
                                "threshold-optimisation subject)")
