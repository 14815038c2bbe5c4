"""Hostile state values from a client (issue 18 item 4) and a failed "Load demo" (item 9), in-process: every
client-set value goes through one validator (``LesionSegWeb.client_values``); a refused value is named in the
panel and the state goes back; a demo that cannot be shown leaves the open review working.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("slicer")
pytest.importorskip("trame_slicer")

from test_web_state import set_state, synthetic_case, write_case  # noqa: E402

from LesionSegLogic.errors import InputError, LesionSegError  # noqa: E402
from LesionSegLogic.image import Image  # noqa: E402
from LesionSegLogic.io import write_image  # noqa: E402
from LesionSegWeb.app import AppConfig, ReviewWebApp  # noqa: E402
from LesionSegWeb.client_values import CLIENT_VALUES, check_client_value  # noqa: E402
from LesionSegWeb.files import PathGate  # noqa: E402
from LesionSegWeb.services import DemoLibrary, ModelInfo, Services  # noqa: E402
from LesionSegWeb.state import initial_state  # noqa: E402

pytestmark = pytest.mark.slicer


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("values")
    write_case(root / "demos" / "demo-good", with_probability=False)
    bad = write_case(root / "demos" / "demo-bad-grid", with_probability=False)
    flair = synthetic_case()[0]
    labels = np.zeros(flair.shape, np.uint8)
    labels[2:5, 2:5, 2:5], labels[8:10, 8:10, 8:10] = 1, 2  # two labels: not a lesion mask
    write_image(flair.with_array(labels), bad / "lesions.nii.gz")
    outside = write_case(root / "outside_case")
    return {"root": root, "case": write_case(root / "cases" / "case-a"), "outside": outside}


@pytest.fixture(scope="module")
def web(folders) -> ReviewWebApp:
    probability = synthetic_case()[2]
    services = Services(models=lambda: [ModelInfo("fake-model", 0.4)],
                        demos=DemoLibrary(folders["root"] / "demos", seeds=()),
                        stand_in=lambda reference, flair: flair.with_array(probability))
    app = ReviewWebApp(AppConfig(case=folders["case"], services=services, views="direct",
                                 out=folders["root"] / "out"))
    app.server.state.ready()
    return app


BAD_VALUES = [
    ("threshold", "abc", "must be a number"), ("threshold", [], "must be a number"),
    ("threshold", {}, "must be a number"), ("threshold", -0.1, "between 0 and 1"),
    ("threshold", float("nan"), "between 0 and 1"), ("threshold", True, "must be a number"),
    ("threshold", None, "got nothing"),
    ("opacity", "zz", "must be a number"), ("opacity", -5, "between 0 and 1"),
    ("accepted_opacity", 7, "between 0 and 1"), ("accepted_visible", "yes", "true or false"),
    ("rule", "bogus", "matching rules"), ("rule", ["hussein"], "matching rules"),
    ("mode", "both", "overlay modes"), ("edit_tool", "flood", "edit tools"),
    ("model", "/tmp/evil.onnx", "listed models"), ("demo_name", "/tmp/outside_case", "listed demo cases"),
    ("demo_name", "../cases/case-a", "listed demo cases"),
    ("path_flair", "/tmp/a\0b.nii.gz", "NUL character"), ("path_case", 12, "must be text"),
    ("path_t2", "x" * 5000, "at most 4096"),
]


@pytest.mark.parametrize(("name", "value", "words"), BAD_VALUES)
def test_a_bad_client_value_is_refused_in_the_panel_and_the_state_reverts(web, name, value, words) -> None:
    state = web.server.state
    set_state(web, threshold=0.45)
    before, threshold, summary = state[name], web.session.threshold, state.summary
    set_state(web, **{name: value})
    assert state.message_kind == "error"
    assert words in state.message and state.message.startswith(name.replace("_", " "))
    assert "internal error" not in state.message and "\n" not in state.message
    assert state[name] == before
    assert web.session.threshold == threshold and state.summary == summary


def test_every_client_value_has_a_rule_and_the_good_values_pass(web) -> None:
    state = web.server.state
    assert set(CLIENT_VALUES) <= set(initial_state())
    for name, good in [("threshold", 0.3), ("opacity", 1), ("rule", state.rules[-1]), ("mode", state.modes[-1]),
                       ("edit_tool", state.edit_tools[0]), ("demo_name", "demo-good"), ("model", "fake-model"),
                       ("accepted_visible", False), ("path_flair", "/some/where.nii.gz"), ("demo_name", None)]:
        assert check_client_value(name, good, state) == good


def test_a_good_value_after_a_refused_one_still_moves_the_review(web) -> None:
    set_state(web, threshold="abc")
    set_state(web, threshold=0.62)
    assert web.session.threshold == pytest.approx(0.62)
    assert web.server.state.summary.startswith("t = 0.62")


def test_demo_names_are_never_paths(web, folders) -> None:
    library = web.config.services.demos
    for name in (str(folders["outside"]), "../outside_case", "demo-good/../../outside_case"):
        with pytest.raises(LesionSegError, match="no demo case called"):
            library.load(name)
        assert not asyncio.run(web.binding.load_demo(name))
        assert web.server.state.case_name != "outside_case"
    assert web.session.flair_node is not None


def test_a_nul_in_a_typed_path_is_one_clear_line(tmp_path) -> None:
    gate = PathGate((tmp_path,))
    for call in (lambda: gate.file(f"{tmp_path}/a\0b.nii.gz", "FLAIR file"), lambda: gate.folder("x\0y")):
        with pytest.raises(InputError, match="NUL character"):
            call()


def test_a_demo_whose_files_fail_to_read_leaves_the_review(web, folders) -> None:
    web.binding.open_case(str(folders["case"]))
    set_state(web, threshold=0.5)
    broken = folders["root"] / "demos" / "demo-broken"
    write_case(broken, with_probability=False)
    (broken / "flair.nii.gz").write_bytes(b"\x1f\x8b not really gzip")
    web.binding.refresh_demos()
    assert not asyncio.run(web.binding.load_demo("demo-broken"))
    set_state(web, threshold=0.35)
    assert web.server.state.summary.startswith("t = 0.35")
    assert web.server.state.case_name == "case-a"


def test_a_failed_demo_leaves_the_open_review_working(web, folders) -> None:
    """Item 9: the demo's probability map is not on its FLAIR grid (found only once the session had the demo's
    FLAIR). The open case stays open and named, and the slider still moves the summary (before: the session
    held the demo's FLAIR without a map while the page showed the old case, so the slider moved nothing)."""
    web.binding.open_case(str(folders["case"]))
    set_state(web, threshold=0.5)
    state, flair_node = web.server.state, web.session.flair_node
    name, summary = state.case_name, state.summary
    values = np.linspace(0.0, 1.0, 5 * 6 * 7, dtype=np.float32).reshape(5, 6, 7)
    other = Image(values, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3), "p")
    folder = write_case(folders["root"] / "demos" / "demo-probability-grid", with_probability=False)
    write_image(other, folder / "probability.nii.gz")
    web.binding.refresh_demos()
    assert not asyncio.run(web.binding.load_demo("demo-probability-grid"))
    assert state.message_kind == "error" and "grid" in state.message and not state.running
    assert state.case_name == name and web.session.flair_node is flair_node and state.summary == summary
    set_state(web, threshold=0.3)
    assert state.summary.startswith("t = 0.30") and state.summary != summary
    assert asyncio.run(web.binding.load_demo("demo-good"))  # and a good demo still loads after it
    assert state.case_name == "demo-good" and state.has_probability
