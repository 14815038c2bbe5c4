"""A slider value below the threshold engine's floor (a whole-volume pass, seconds on a big noisy map) is computed
off the web server's event loop: the page keeps answering while it runs, and then shows the exact result."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("slicer")
pytest.importorskip("trame_slicer")

from LesionSegLib.runner import InferenceResult, InProcessRunner
from web_apps import direct_app
from web_cases import synthetic_case, write_case

from LesionSegLogic.threshold import ThresholdEngine
from LesionSegWeb.app import AppConfig
from LesionSegWeb.services import DemoLibrary, ModelInfo, Services

pytestmark = pytest.mark.slicer  # a web app of its own, built with direct_app: the test itself ~1.4 s (was 4.4 s)


def capped_engine(probability, spacing, reference=None, rule="hussein"):
    """The session's engine with a candidate cap that raises its floor well above 0.01."""
    return ThresholdEngine(probability, spacing, reference=reference, rule=rule,
                           max_candidates=int(np.prod(probability.shape)) // 20)


def test_a_threshold_below_the_floor_runs_in_a_worker_while_the_page_answers(tmp_path: Path) -> None:
    probability = synthetic_case()[2]
    services = Services(models=lambda: [ModelInfo("fake-model", 0.4)], demos=DemoLibrary(tmp_path / "d", seeds=()),
                        stand_in=lambda reference, flair: flair.with_array(probability),
                        runner=InProcessRunner(lambda r, p, c: InferenceResult(r.flair.with_array(probability), 0.4,
                                                                               "fake-model")))
    app = direct_app(AppConfig(case=write_case(tmp_path / "case"), services=services, views="direct",
                               out=tmp_path / "out"))
    app.server.state.ready()
    session, binding, state = app.session, app.binding, app.server.state
    session._engine_factory = capped_engine
    session._rebuild_engine(keep_threshold=True)
    engine = session.engine
    low = round(engine.floor / 2, 2)
    assert engine.needs_full_pass(low) and session.bound_note and state.bound_note == session.bound_note
    started, release, answered = threading.Event(), threading.Event(), []
    prepare = engine.prepare

    def slow_prepare(threshold: float, mode: str = "lesion") -> bool:
        started.set()
        assert release.wait(10)
        return prepare(threshold, mode)

    engine.prepare = slow_prepare

    async def drag_below_the_floor() -> None:
        binding._on_threshold(low)
        while not started.is_set():  # the worker thread has the whole-volume pass
            await asyncio.sleep(0.005)
        assert threading.current_thread() is threading.main_thread()
        binding._on_opacity(0.3)  # the loop still answers other messages meanwhile
        answered.append(session.threshold)
        assert "computing over the whole volume" in state.bound_note
        release.set()
        for _ in range(400):
            if session.threshold == low:
                break
            await asyncio.sleep(0.005)

    asyncio.run(drag_below_the_floor())
    assert answered and answered[0] != low  # the old review was still shown while the pass ran
    assert session.threshold == low and state.threshold == low
    exact = ThresholdEngine(session.probability.array, session.flair.spacing, reference=session.reference,
                            rule=session.parameters.rule).at(low)
    assert session.state.metrics == exact.metrics and np.array_equal(session.state.overlay, exact.overlay)
    assert "the last one took" in state.bound_note
