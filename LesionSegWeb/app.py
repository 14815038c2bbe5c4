"""Build and serve the LesionSeg review web app: a trame server, a trame-slicer ``SlicerApp`` (MRML scene,
slice views rendered offscreen and streamed as images), one :class:`ReviewSession` and the page.

    app = ReviewWebApp(AppConfig(case=Path("demo/case_000")))
    app.start()          # blocks; prints the URL

Views can be ``"remote"`` (streamed to the browser; the default) or ``"direct"`` (offscreen, no browser: pixel
tests render them and read the pixels back).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from LesionSegLib.lesion_focus import LesionFocus
from LesionSegLib.parameters import ReviewParameters, RuleName
from LesionSegLib.session import ReviewSession
from LesionSegLib.vtk_output import quiet_vtk_start

from LesionSegLogic.defaults import DEFAULT_RULE

from .browse import BrowserBinding, FolderBrowser
from .compare import SideBySide
from .editing import AcceptedEditor
from .files import PathGate
from .guard import URL_LINE, AccessPolicy
from .lesions_3d import LesionSurfaces
from .services import DemoLibrary, Services
from .state import ReviewBinding
from .view_layouts import ViewControls
from .viewport import SlicerViewport

ViewKind = Literal["remote", "direct"]
#: Streamed views: frames per second at most, and the JPEG quality of every frame (trame-rca's still quality).
FRAME_RATE = 60.0
FRAME_QUALITY = 90
_server_names = itertools.count()


@dataclass(frozen=True)
class AppConfig:
    """What ``lesionseg app`` was asked to open and where to listen."""

    case: Path | None = None
    flair: Path | None = None
    t2: Path | None = None
    reference: Path | None = None
    probability: Path | None = None
    #: how to read another tool's map given as ``probability`` (``lesionseg app --channel/--scale``)
    probability_channel: int | None = None
    probability_scale: float | None = None
    model: str | None = None
    #: Initial lesion matching rule (the panel's "Matching rule" select changes it).
    rule: RuleName = DEFAULT_RULE  # type: ignore[assignment]
    demo: bool = False
    run: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    allow: tuple[Path, ...] = ()
    #: Origins allowed besides the page's own (``--allow-origin``); see :mod:`.guard`.
    allow_origins: tuple[str, ...] = ()
    out: Path = Path("lesionseg_review")
    demo_dir: Path | None = None
    views: ViewKind = "remote"
    services: Services = field(default_factory=Services)
    #: Threshold engine factory handed to the session (``None``: the session's default ThresholdEngine).
    engine_factory: Callable[..., Any] | None = None

    def gate(self) -> PathGate:
        return PathGate.from_paths([self.case, self.flair, self.t2, self.reference, self.probability,
                                    *self.allow])


class ReviewWebApp:
    """The server, the scene with its views, the session, the binding and the page, wired together."""

    def __init__(self, config: AppConfig | None = None, server: Any = None) -> None:
        from trame.app import get_server  # heavy; keeps `lesionseg --help` fast
        from trame_slicer import module as trame_slicer_module
        from trame_slicer.core import LayoutManager, SlicerApp

        from .layout import build_page

        config = config or AppConfig()
        if config.services.demos is None:
            demos = DemoLibrary(config.demo_dir or config.out / "demo-cases")
            config = replace(config, services=replace(config.services, demos=demos))
        self.config = config
        self.server = server or get_server(f"lesionseg-{next(_server_names)}", client_type="vue3")
        self.server.enable_module(trame_slicer_module)
        #: Origin check, per-launch secret and message bound on every request (issue 18 items 1, 2).
        self.access = AccessPolicy(host=config.host, allow_origins=config.allow_origins)
        self.server.controller.on_server_bind.add(self.access.install)
        self.server.controller.on_server_ready.add(self._print_url)
        self.slicer_app = SlicerApp()
        with quiet_vtk_start():  # no X-server/deprecation notices on a headless start; other messages still shown
            self._register_views()
            self.layout_manager = LayoutManager(self.slicer_app.scene, self.slicer_app.view_manager, self.server)
            #: the layouts (axial large; sagittal large for a cord) and the mouse mode (:mod:`.view_layouts`)
            controls = ViewControls(self.layout_manager, self.slicer_app.scene, self.server.state,
                                    lambda: self.viewport.slice_views())
        self.viewport = SlicerViewport(self.slicer_app, controls)
        extra = {} if self.config.engine_factory is None else {"engine_factory": self.config.engine_factory}
        self.session = ReviewSession(self.slicer_app.scene, runner=self.config.services.runner,
                                     view_controller=LesionFocus(self.slicer_app.scene),
                                     parameters=ReviewParameters(rule=self.config.rule), **extra)
        self.binding = ReviewBinding(self.server.state, self.session, self.viewport,
                                     services=self.config.services, gate=self.config.gate(),
                                     export_dir=self.config.out, editor=AcceptedEditor(self.slicer_app))
        #: the lesions as surfaces in the 3-D view, rebuilt when the slider rests (:mod:`.lesions_3d`)
        self.lesion_surfaces = LesionSurfaces(self.slicer_app.scene, self.session,
                                              lambda: self.binding.slider.dragging)
        controls.on_3d = self.lesion_surfaces.set_enabled
        self.viewport.on_rest(self.lesion_surfaces.refresh)
        self.lesion_surfaces.on_new_node = self.viewport.fit_3d
        #: the file picker over the binding's allowed folders (:mod:`.browse`)
        self.browser = BrowserBinding(self.server.state, FolderBrowser(self.binding.gate))
        #: two maps side by side (:mod:`.compare`): a second session over the same volumes, its own axial view
        self.binding.compare = SideBySide(self.binding, self.slicer_app, self.layout_manager)
        self.page = build_page(self.server, self.layout_manager, self.binding, self.browser)
        self.binding.refresh_models(self.config.model)
        self._open_initial()

    def _register_views(self) -> None:
        if self.config.views == "direct":
            from trame_slicer.views import DirectViewFactory

            self.slicer_app.view_manager.register_factory(DirectViewFactory(do_render_offscreen=True))
            return
        from trame_slicer.rca_view import register_rca_factories

        # One frame per update at a quality the page keeps (no second "still" render of every frame), and the
        # full frame rate when the mouse is on the panel, not on a view (slider drags): trame-rca's defaults
        # (quality 50 then a re-render at 90; 10 fps for views without the mouse) doubled the renders and held
        # each view's next frame back up to 100 ms.
        register_rca_factories(self.slicer_app.view_manager, self.server, target_fps=FRAME_RATE,
                               blur_fps=FRAME_RATE, interactive_quality=FRAME_QUALITY)

    def _open_initial(self) -> None:
        c = self.config
        if c.case is not None:
            self.binding.open_case(str(c.case))
        elif c.flair is not None:
            s = self.server.state
            s.path_flair, s.path_t2 = str(c.flair), str(c.t2 or "")
            s.path_reference, s.path_probability = str(c.reference or ""), str(c.probability or "")
            s.probability_channel, s.probability_scale = c.probability_channel, c.probability_scale
            self.binding.open_files()
        # the lesion regions of the case opened here are labelled off the loop once it runs
        self.server.controller.on_server_ready.add(lambda **_: self.binding.label_regions_pending())
        if c.demo or c.run:
            self.server.controller.on_server_ready.add(lambda **_: self._schedule_start())

    def _schedule_start(self) -> None:
        from trame_server.utils.asynchronous import create_task

        create_task(self._start_work())

    async def _start_work(self) -> None:
        """``--demo``: open the first demo case; ``--run``: then run the selected model."""
        c = self.config
        if c.demo and not await self.binding.load_demo(with_stand_in=not c.run):
            return
        if c.run:
            await self.binding.run_model()

    def _print_url(self, **_: Any) -> None:
        print(f"{URL_LINE}{self.url}", flush=True)

    @property
    def url(self) -> str:
        """The page's address with the per-launch secret (``?token=…``); the page keeps it in a cookie."""
        return self.access.url(self.port)

    @property
    def port(self) -> int:
        return int(self.server.port or self.config.port)

    def start(self, **kwargs: Any) -> Any:
        """Serve (blocking unless ``exec_mode="task"``); binds to ``config.host`` (loopback by default)."""
        kwargs.setdefault("show_connection_info", False)  # trame's line has no token: :meth:`_print_url` says it
        return self.server.start(host=self.config.host, port=self.config.port, open_browser=False, **kwargs)
