"""LesionSegWeb — the review workflow in a browser: a trame-slicer face over
:class:`LesionSegLib.session.ReviewSession`.

Start it with ``lesionseg app`` (see ``docs/web.md``). Modules: :mod:`.app` (build/serve), :mod:`.layout` (the
page), :mod:`.state` (trame state ⇄ session), :mod:`.files` (which paths may be opened), :mod:`.services`
(phantom, zoo, export), :mod:`.viewport` (slice views), :mod:`.format`/:mod:`.curve` (numbers → page).
"""
