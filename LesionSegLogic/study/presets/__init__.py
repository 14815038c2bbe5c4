"""Bundled study presets: ``tiny`` (the test suite's seconds-long study), ``quick`` (≤ 30 min on a 2-core CPU:
4 losses × 2 seeds, small brain phantoms, short training) and ``paper`` (Hussein et al. 2023's protocol: seven
losses, 3D U-Net 16/32/64 with batch norm, 48³ patches along the cord axis with 75 % overlap, Adam 1e-4 or Adadelta 1
for Combo, 300 epochs, 75 % overlap averaged maps; on spinal-cord phantoms, for GPU users)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from LesionSegLogic.errors import ConfigError

FOLDER = Path(__file__).resolve().parent
#: preset names, derived from the files in this folder
PRESETS: tuple[str, ...] = tuple(sorted(p.stem for p in FOLDER.glob("*.json")))


def preset_dict(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise ConfigError(f"unknown study preset {name!r}; choose one of {', '.join(PRESETS)}")
    return json.loads((FOLDER / f"{name}.json").read_text())


def preset_path(name: str) -> Path:
    preset_dict(name)
    return FOLDER / f"{name}.json"
