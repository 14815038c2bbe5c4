"""Building the review web app inside a test process (no test functions here).

An app with ``views="direct"`` (offscreen views, no browser) renders a view synchronously on every render request
of its displayable managers. Building the app and opening its case asks about 540 times, for pictures of a scene
still being filled that nobody looks at: 537 renders, 3.4 s of a 4.5 s build under cProfile (2026-11-30, load
about 4), in every test module that builds an app. :func:`direct_app` holds those requests while the app is built
and then renders each view once, so the first picture a test sees is the one a finished build shows.
"""

from __future__ import annotations

from trame_slicer.views.render_scheduler import DirectRendering

from LesionSegWeb.app import AppConfig, ReviewWebApp


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
    return app
