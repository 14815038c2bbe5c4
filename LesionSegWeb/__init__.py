"""LesionSegWeb — the review workflow in a browser: a trame-slicer face over
:class:`LesionSegLib.session.ReviewSession`.

Start it with ``lesionseg app`` (see ``docs/web.md``). Modules: :mod:`.app` (build/serve), :mod:`.layout` (the
page), :mod:`.state` (trame state ⇄ session), :mod:`.files` (which paths may be opened), :mod:`.services`
(phantom, zoo, export), :mod:`.viewport` (slice views), :mod:`.render_gate` (which views redraw after a
threshold update), :mod:`.latest` (only the newest slider value is processed), :mod:`.editing` (brush/erase/undo
on the accepted segmentation), :mod:`.format`/:mod:`.curve` (numbers → page).
"""
