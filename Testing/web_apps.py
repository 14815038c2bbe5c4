"""Building the review web app inside a test process (no test functions here).

An app with ``views="direct"`` (offscreen views, no browser) renders a view synchronously on every render request
of its displayable managers. Building the app and opening its case asks about 540 times, for pictures of a scene
still being filled that nobody looks at: 537 renders, 3.4 s of a 4.5 s build under cProfile (2026-11-30, load
about 4), in every test module that builds an app. :func:`direct_app` holds those requests while the app is built
and then renders each view once, so the first picture a test sees is the one a finished build shows; after that
its views count their render requests instead of rendering (:func:`render_requests`), and a test that looks at a
view renders it (:mod:`view_pixels`).

Also the in-process state tests' app (test_web_state, test_web_review_folders, one per module): the synthetic case
of :mod:`web_cases` in a case folder and a demo folder, a fake model that can be held and cancelled, and
:func:`set_state`, a change of the page's state as the browser sends it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from LesionSegLib.runner import InferenceResult, InProcessRunner
from trame_slicer.views.render_scheduler import DirectRendering
from web_cases import synthetic_case, write_case

from LesionSegLogic.errors import Cancelled
from LesionSegWeb.app import AppConfig, ReviewWebApp
from LesionSegWeb.services import DemoLibrary, ModelInfo, Services


def direct_app(config: AppConfig) -> ReviewWebApp:
    """``ReviewWebApp(config)`` for a ``views="direct"`` config, built with its views' renders held, then each view
    rendered once.

    The hold is on the direct views' render strategy (``DirectRendering``), which every request reaches through
    a lookup at call time; a view's own ``schedule_render`` is registered as an observer callback when the view
    is made, so replacing that one would silence the view for good."""
    if config.views != "direct":
        raise ValueError(f"direct_app builds apps with offscreen views, not views={config.views!r}")
    schedule_render = DirectRendering.schedule_render
    DirectRendering.schedule_render = lambda self: None  # held for this build only (restored below)
    try:
        app = ReviewWebApp(config)
    finally:
        DirectRendering.schedule_render = schedule_render
    for view in app.slicer_app.view_manager.get_views():
        view.render()
        _note_requests(view)
    return app


def render_requests(app: ReviewWebApp) -> dict[str, int]:
    """How many render requests each view of a :func:`direct_app` app made since it was built (by orientation;
    ``"3D"`` for the 3-D view): what the page's renderer would draw (one frame per request burst)."""
    return {_name(view): getattr(view, REQUESTS, 0) for view in app.slicer_app.view_manager.get_views()}


#: the attribute of a direct app's view that counts its render requests (:func:`render_requests`)
REQUESTS = "lesionseg_render_requests"


def _name(view) -> str:
    return view.get_orientation() if hasattr(view, "get_orientation") else "3D"


def _note_requests(view) -> None:
    """After the build a direct view's render requests are counted, not rendered: in a test nobody looks at the
    picture a request would draw (hundreds per opened case, most of a web module's time); a test that looks
    renders the view itself (:func:`view_pixels.rendered_rgb`). The request still passes the app's render gate,
    which decides whether it reaches the view's strategy (the ``DirectRendering`` instance, also when wrapped)."""
    strategy = getattr(view, "_scheduled_render", None)  # trame-slicer has no public getter for it
    direct = getattr(strategy, "inner", strategy)
    if not isinstance(direct, DirectRendering):
        return
    setattr(view, REQUESTS, 0)
    direct.schedule_render = lambda: setattr(view, REQUESTS, getattr(view, REQUESTS) + 1)  # type: ignore[method-assign]


class FakeModel:
    """Runner stand-in: reports progress, runs until ``release`` is set, honours cancel, returns the synthetic
    probability map."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.progress: list[float] = []
        self.warnings: list[str] = []

    def __call__(self, request, progress, cancel) -> InferenceResult:
        self.started.set()
        for step in range(4):
            if progress:
                progress(step / 4, f"patch {step}")
            self.progress.append(step / 4)
        while not self.release.wait(0.01):
            if cancel is not None and cancel.cancelled:
                raise Cancelled("inference cancelled")
        return InferenceResult(request.flair.with_array(synthetic_case()[2]), 0.4, "fake-model",
                               {"warnings": list(self.warnings)})


def case_folders(root: Path) -> dict[str, Path]:
    """Under ROOT: ``cases/case-a`` (the synthetic case with its probability map) and ``demos/demo-a`` (without)."""
    return {"root": root, "case": write_case(root / "cases" / "case-a"),
            "demo": root / "demos", "demo_case": write_case(root / "demos" / "demo-a", with_probability=False)}


def fake_model_app(folders: dict[str, Path], model: FakeModel) -> ReviewWebApp:
    """The app on :func:`case_folders`' case with MODEL as its only model (and the synthetic map as the stand-in
    for a demo), offscreen views, outputs under ``root/out``; its state is ready (as after a page connects)."""
    probability = synthetic_case()[2]
    services = Services(models=lambda: [ModelInfo("fake-model", 0.4)],
                        demos=DemoLibrary(folders["demo"], seeds=()),
                        stand_in=lambda reference, flair: flair.with_array(probability),
                        runner=InProcessRunner(model))
    app = direct_app(AppConfig(case=folders["case"], services=services, views="direct",
                               out=folders["root"] / "out"))
    app.server.state.ready()
    return app


def set_state(app: ReviewWebApp, **values) -> None:
    """Change the page's state as the browser does (one update, flushed)."""
    app.server.state.update(values)
    app.server.state.flush()
