"""One source of truth for every vocabulary (issue 17): matching rules, fusions, TTA modes, devices, overlay modes.

Each list is defined once, next to the code that implements it; everything else derives from it. The typing
``Literal``s that cannot be derived are checked against the runtime tuples here, and the source tree is scanned for
literal lists that spell a vocabulary out again (the drift the issue found: a card with ``"tta": "rot"`` refused
although ``predict --tta rot`` ran it).
"""

from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import get_args

import pytest

from LesionSegLogic.anatomy import ANATOMIES
from LesionSegLogic.defaults import RULE_NAMES
from LesionSegLogic.inference.device import DEVICES
from LesionSegLogic.inference.fusion import FUSIONS
from LesionSegLogic.inference.tta import TTAS
from LesionSegLogic.metrics.rules import PRESETS, RuleName
from LesionSegLogic.models import available_architectures
from LesionSegLogic.threshold.result import OVERLAY_MODES, OverlayMode
from LesionSegLogic.threshold.sweep import OBJECTIVES
from LesionSegLogic.training.config import OPTIMISERS, SAMPLINGS
from LesionSegLogic.zoo.card import ModelCard

ROOT = Path(__file__).resolve().parents[1]
#: the trees whose code must derive every vocabulary (tests may spell expected values out)
SOURCE_TREES = ("LesionSegLogic", "LesionSegExtension", "LesionSegWeb", "benchmarks", "scripts")
UI_FILE = ROOT / "LesionSegExtension" / "Resources" / "UI" / "LesionSeg.ui"

#: vocabulary name → (its names, the one file allowed to spell them out)
VOCABULARIES: dict[str, tuple[tuple[str, ...], str]] = {
    "matching rules": (tuple(PRESETS), "LesionSegLogic/metrics/rules.py"),
    "fusions": (FUSIONS, "LesionSegLogic/inference/fusion.py"),
    "TTA modes": (TTAS, "LesionSegLogic/inference/tta.py"),
    "devices": (DEVICES, "LesionSegLogic/inference/device.py"),
    "overlay modes": (OVERLAY_MODES, "LesionSegLogic/threshold/result.py"),
    "anatomies": (ANATOMIES, "LesionSegLogic/anatomy.py"),
    "sweep objectives": (tuple(OBJECTIVES), "LesionSegLogic/threshold/sweep.py"),
    "optimisers": (OPTIMISERS, "LesionSegLogic/training/config.py"),
    "patch samplings": (SAMPLINGS, "LesionSegLogic/training/config.py"),
    "architectures": (tuple(available_architectures()), "LesionSegLogic/models/registry.py"),
}


def test_typing_literals_name_exactly_the_runtime_vocabularies() -> None:
    assert get_args(RuleName) == tuple(PRESETS) == RULE_NAMES
    assert get_args(OverlayMode) == OVERLAY_MODES


def test_the_faces_use_the_library_tuples_themselves() -> None:
    parameters = pytest.importorskip("LesionSegLib.parameters")  # installed with the package; skip never expected
    assert parameters.MATCHING_RULES is RULE_NAMES
    assert parameters.OVERLAY_MODES is OVERLAY_MODES
    assert parameters.DEVICES is DEVICES


@pytest.mark.parametrize("tta", TTAS)
@pytest.mark.parametrize("fusion", FUSIONS)
def test_a_card_accepts_every_fusion_and_tta_that_predict_accepts(fusion: str, tta: str) -> None:
    card = ModelCard(name="vocab", architecture="unet3d", inputs=("flair",), patch_size=(16, 16, 16),
                     inference={"overlap": 0.5, "fusion": fusion, "tta": tta})
    assert not [p for p in card.problems(require_sha256=False) if p.startswith("inference")]


def test_a_card_still_refuses_an_unknown_tta() -> None:
    card = ModelCard(name="vocab", architecture="unet3d", inputs=("flair",), patch_size=(16, 16, 16),
                     inference={"overlap": 0.5, "fusion": "gaussian", "tta": "spin"})
    assert any("inference.tta" in p for p in card.problems(require_sha256=False))


def _string_collections(tree: ast.AST):
    """``(line, values)`` of every tuple/list/set display whose items are all string constants (two or more),
    including the subscript of a ``Literal[...]``."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Tuple | ast.List | ast.Set) and len(node.elts) >= 2
                and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)):
            yield node.lineno, tuple(e.value for e in node.elts)


def repeated_vocabularies(root: Path) -> list[str]:
    """Places outside a vocabulary's own file that spell out all of it, or all but one of its names (a copy
    that has already drifted); a deliberate subset of two names or fewer of a larger list is not a copy."""
    found = []
    for tree_name in SOURCE_TREES:
        for path in sorted((root / tree_name).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
            for line, values in _string_collections(tree):
                for vocabulary, (names, home) in VOCABULARIES.items():
                    shared = set(values) & set(names)
                    if relative != home and set(values) <= set(names) and len(shared) >= max(2, len(names) - 1):
                        found.append(f"{relative}:{line} spells out the {vocabulary} {values}")
    return found


def test_no_source_file_spells_out_a_vocabulary_again() -> None:
    assert repeated_vocabularies(ROOT) == []


def test_the_scan_finds_a_copied_list(tmp_path: Path) -> None:
    """The scan is not vacuous: a copy of the TTA list with one mode missing (the drift of issue 17) is found."""
    package = tmp_path / "LesionSegLogic"
    package.mkdir()
    (package / "card_copy.py").write_text('TTAS = ("none", "flip", "flip-rot")\nDEVICES = ["auto", "cpu"]\n')
    found = repeated_vocabularies(tmp_path)
    assert len(found) == 1 and "TTA modes" in found[0] and "card_copy.py:1" in found[0]


def test_panel_combo_boxes_take_their_items_from_the_parameter_choices() -> None:
    """A combo box bound to a parameter (``SlicerParameterName``) is filled from its ``Choice`` by Slicer's
    connector, which clears the box first: items in the ``.ui`` would be a second, unused copy of the list."""
    root = ET.parse(UI_FILE).getroot()
    bound = [w for w in root.iter("widget") if w.get("class") == "QComboBox"
             and any(p.get("name") == "SlicerParameterName" for p in w.findall("property"))]
    assert {w.get("name") for w in bound} >= {"ruleComboBox", "modeComboBox", "deviceComboBox"}
    for widget in bound:
        assert widget.findall("item") == [], widget.get("name")
