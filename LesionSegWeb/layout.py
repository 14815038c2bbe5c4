"""The page: slice views (axial large; 3D, coronal, sagittal beside it) and a side panel with the sections
of the desktop panel: inputs, model + run, review (threshold), display, metrics, lesions, curve,
accept/export.

Every control carries an accessible name (``aria-label``, or Vuetify's ``name`` for slider thumbs) so screen
readers and the browser tests find it by role and name.
"""

from __future__ import annotations

from typing import Any

from trame.ui.vuetify3 import VAppLayout
from trame.widgets import client, html
from trame.widgets import vuetify3 as v

from LesionSegLogic.curve_style import CURRENT_MARKER_COLOR, RECOMMENDED_MARKER_COLOR, hex_color

from .browse import ROLES, BrowserBinding
from .curve import FRAME as CURVE_FRAME
from .curve import axes_svg
from .state import ReviewBinding

#: Where a click fell on the curve, as a fraction of the chart's width (the server maps it to a threshold).
CLICK_FRACTION = ("[($event.clientX - $event.currentTarget.getBoundingClientRect().left)"
                  " / $event.currentTarget.getBoundingClientRect().width]")
STATUS_COLOR = "row.status === 'TP' ? 'green' : (row.status === 'FP' ? 'red' : 'blue')"


def attrs(**values: str) -> list[str]:
    """Attributes trame has no keyword for (``aria-*``, ``role``, ``tabindex``) as raw template attributes:
    ``aria_label="Run"`` → ``aria-label="Run"``; a name ending in ``_bound`` is a bound (``:``) expression."""
    out = []
    for key, value in values.items():
        bound = key.endswith("_bound")
        name = key.removesuffix("_bound").replace("_", "-")
        text = str(value).replace('"', "&quot;")
        out.append(f'{":" if bound else ""}{name}="{text}"')
    return out


def _section(title: str) -> None:
    html.Div(title, classes="text-subtitle-2 mt-3 mb-1", raw_attrs=attrs(role="heading", aria_level="2"))


def _button(text: str, action: Any, label: str, **kwargs: Any) -> None:
    v.VBtn(text, click=action, raw_attrs=attrs(aria_label=label), size="small", variant="tonal",
           classes="mr-1 mb-1", **kwargs)


def _inputs(binding: ReviewBinding) -> None:
    _section("Inputs")
    with html.Div(classes="d-flex align-center"):
        v.VSelect(v_model=("demo_name",), items=("demo_names",), label="Demo phantom", density="compact",
                  hide_details=True, classes="mr-2", no_data_text="no demo cases")
        _button("Load demo", binding.start_demo, "Load demo phantom", disabled=("running",))
    with (v.VExpansionPanels(variant="accordion", classes="mt-2"), v.VExpansionPanel(title="Open a case or files"),
          v.VExpansionPanelText()):
        v.VTextField(v_model=("path_case",), label="Case folder", density="compact", hide_details=True,
                     classes="mb-1")
        _button("Open case", binding.open_case, "Open case folder", disabled=("running",))
        for key, text in (("flair", "FLAIR file"), ("t2", "T2 file (optional)"),
                          ("reference", "Reference lesions (optional)"),
                          ("probability", "Probability map (optional)")):
            v.VTextField(v_model=(f"path_{key}",), label=text, density="compact", hide_details=True,
                         classes="mb-1")
        with html.Div(classes="d-flex align-center", v_show="path_probability"):  # another tool's map (docs/models.md)
            v.VTextField(v_model=("probability_channel",), label="Map channel (4-D softmax)", density="compact",
                         hide_details=True, classes="mr-2 mb-1", raw_attrs=attrs(aria_label="Probability channel"))
            v.VTextField(v_model=("probability_scale",), label="Map scale (integer map: 255, 1000)",
                         density="compact", hide_details=True, classes="mb-1",
                         raw_attrs=attrs(aria_label="Probability scale"))
        _button("Open files", binding.open_files, "Open files", disabled=("running",))
    html.Div("Case: {{ case_name || 'none' }}", classes="text-caption mt-1", id="case-name")


def _model(binding: ReviewBinding) -> None:
    _section("Model")
    v.VSelect(v_model=("model",), items=("models",), item_title="title", item_value="value", label="Model",
              density="compact", hide_details=True, no_data_text="no models in the zoo")
    # which model the one auto-pick chose for the open inputs, and why (issue 12; state.model_reason)
    html.Div("{{ model_reason }}", id="model-reason", v_show="model_reason",
             classes="text-caption text-medium-emphasis")
    v.VSelect(v_model=("model_label",), items=("model_labels",), label="Lesion label (nnU-Net dataset)",
              v_show="model_labels.length", density="compact", hide_details=True, classes="mt-1")
    with html.Div(classes="d-flex align-center mt-1"):  # your own model: nnU-Net v2 folder or ONNX (docs/models.md)
        v.VTextField(v_model=("path_model",), label="nnU-Net model folder or .onnx (in an allowed folder)",
                     density="compact", hide_details=True, classes="mr-2")
        _button("Add model", binding.add_model, "Add model", disabled=("running || !path_model",))
    with html.Div(classes="d-flex align-center mt-1"):
        _button("Run", binding.start_run, "Run model", disabled=("running || !has_inputs || !model",))
        _button("Cancel", binding.cancel, "Cancel inference", disabled=("!running || cancelling",))
    v.VProgressLinear(model_value=("progress",), v_show="running", height=8, color="primary",
                      raw_attrs=attrs(aria_label="Inference progress"), classes="mt-1")
    html.Div("{{ progress_text }}", v_show="running", classes="text-caption")


def _review(binding: ReviewBinding) -> None:
    _section("Review")
    with html.Div(classes="d-flex align-center", id="threshold-row"):
        v.VSlider(v_model=("threshold",), min=0.0, max=1.0, step=0.01, name="Decision threshold",
                  label="Decision threshold", thumb_label=True, hide_details=True, color="primary",
                  disabled=("!has_probability",), id="threshold-slider",
                  start=binding.threshold_start, end=(binding.threshold_end, "[$event]"))
        # the value as text, updated in the browser while dragging (no round trip to the server)
        html.Div("{{ Number(threshold).toFixed(2) }}", id="threshold-value",
                 classes="text-body-2 font-weight-medium ml-2", style="min-width: 2.5em")
    with html.Div(classes="d-flex align-center"):
        html.Div("Recommended: {{ recommended == null ? '—' : Number(recommended).toFixed(2) }}"
                 "{{ recommended_by ? ' (' + recommended_by + ')' : '' }}", classes="text-caption mr-2",
                 id="recommended")
        _button("Reset", binding.reset_threshold, "Reset to recommended threshold",
                disabled=("!has_probability",))
    html.Div("{{ summary }}", id="summary", raw_attrs=attrs(role="status", aria_live="polite"),
             classes="text-body-2 font-weight-medium mt-1")
    html.Div("{{ bound_note }}", id="bound-note", v_show="bound_note", classes="text-caption text-medium-emphasis")
    with html.Div(classes="text-caption", v_show="has_reference"):
        v.VChip("TP", color="green", size="x-small", classes="mr-1")
        v.VChip("FP", color="red", size="x-small", classes="mr-1")
        v.VChip("FN", color="blue", size="x-small")
    with html.Div(classes="d-flex align-center mt-1"):
        html.Label("Matching rule", classes="text-caption mr-2", raw_attrs=['for="rule-select"'])
        with html.Select(v_model=("rule",), id="rule-select", classes="mr-3 px-1",
                         style="border: 1px solid #bbb; border-radius: 4px",
                         disabled=("!has_probability",), raw_attrs=attrs(aria_label="Matching rule")):
            html.Option("{{ name }}", v_for="name in rules", key="name", value=("name",))
        with v.VBtnToggle(v_model=("mode",), mandatory=True, density="compact", variant="outlined",
                          divided=True, color="primary", id="mode-toggle", disabled=("!has_probability",),
                          raw_attrs=attrs(role="group", aria_label="Overlay mode")):
            v.VBtn("Lesion-wise", value="lesion", size="small",
                   raw_attrs=attrs(aria_label="Lesion-wise overlay"))
            v.VBtn("Voxel-wise", value="voxel", size="small", raw_attrs=attrs(aria_label="Voxel-wise overlay"))
    v.VSlider(v_model=("opacity",), min=0.0, max=1.0, step=0.05, name="Overlay opacity",
              label="Overlay opacity", hide_details=True, density="compact", classes="mt-1")


def _metrics() -> None:
    _section("Metrics")
    with (v.VTable(density="compact", raw_attrs=attrs(aria_label="Metrics"), id="metrics-table"),
          html.Tbody(),
          html.Tr(v_for="row in metric_rows", key="row.group + row.key")):
        html.Td("{{ row.name }}")
        html.Td("{{ row.value }}", classes="text-right")
    _lesion_load()


def _lesion_load() -> None:
    """Lesion load per McDonald 2017 region (Thompson et al. 2018) at the current threshold, and the reference's."""
    _section("Lesion load by region")
    with (v.VTable(density="compact", raw_attrs=attrs(aria_label="Lesion load by region"), id="load-table",
                   v_show="load.regions.length", classes="text-caption")):
        with html.Thead(), html.Tr():
            for head in ("Region", "Predicted", "Reference"):
                html.Th(head)
        with html.Tbody(), html.Tr(v_for="r in load.regions", key="r.region"):
            html.Td("{{ r.title }}{{ r.dis ? '' : ' (not DIS)' }}")
            html.Td("{{ r.predicted }}", classes="text-right")
            html.Td("{{ r.reference }}", classes="text-right")
    html.Div("{{ load.dis }}", classes="text-caption", v_show="load.dis")
    html.Div("Regions: {{ load.method || 'none yet (being labelled, or the image is neither brain nor cord)' }}",
             classes="text-caption text-medium-emphasis", v_show="has_probability", id="region-method")


#: the lesion table's columns: (sort key, header, width); the sort keys are LesionSegLib.lesion_list.SORT_KEYS'
LESION_HEADERS: tuple[tuple[str, str, str], ...] = (
    ("id", "#", "2.1em"), ("kind", "Kind", "2.6em"), ("status", "Status", "3.3em"), ("volume_mm3", "mm³", "1fr"),
    ("max_probability", "Max p", "3.7em"), ("mean_probability", "Mean", "3em"), ("region", "Reg.", "2.8em"),
    ("slice", "Slice", "2.6em"))
LESION_GRID_TEMPLATE = " ".join(width for _, _, width in LESION_HEADERS)
LESION_ROW_HEIGHT = 26
LESION_ROWS_VISIBLE = 8
STATUS_CHIP_COLORS = {"TP": "green", "FP": "red", "FN": "blue"}
#: N: next missed (FN) lesion, P: next false-positive; Shift: the previous one (not while typing in a field)
LESION_KEYS_JS = """window.addEventListener('keydown', (e) => {{
  const t = e.target;
  if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
  if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
  const k = (e.key || '').toLowerCase();
  if (k !== 'n' && k !== 'p') return;
  e.preventDefault();
  window.trame.trigger('{trigger}', [k, e.shiftKey]);
}});"""


def _lesions(binding: ReviewBinding) -> None:
    """The lesion table (:mod:`.lesion_table`): the lesion load in one line; status and region filter chips; "Next
    FN"/"Next FP" (keys N/P); headers that sort (again: the other way); a virtualised body (``VVirtualScroll``: only
    the rows in sight are in the page, :data:`LESION_ROWS_VISIBLE` high) that scrolls to the lesion in focus and
    highlights it. A row click centres, zooms and marks the lesion in every view."""
    table = binding.lesion_table
    _section("Lesions ({{ lesions.length }}{{ lesions.length === lesion_count ? '' : ' of ' + lesion_count }})")
    html.Div("Load: predicted {{ load.predicted || '—' }}{{ load.reference ? ' · reference ' + load.reference : '' }}",
             id="lesion-load", classes="text-caption", v_show="has_probability")
    with html.Div(classes="d-flex align-center flex-wrap", id="lesion-filters",
                  raw_attrs=attrs(role="group", aria_label="Lesion filters")):
        for status, color in STATUS_CHIP_COLORS.items():
            v.VChip(status, color=color, size="small", classes="mr-1 mb-1",
                    variant=(f"lesion_statuses.includes('{status}') ? 'flat' : 'outlined'",),
                    click=(table.toggle_status, f"['{status}']"),
                    raw_attrs=attrs(role="button", aria_label=f"Show {status} lesions",
                                    aria_pressed_bound=f"lesion_statuses.includes('{status}')"))
        v.VChip("{{ r.short }} {{ r.count }}", v_for="r in region_choices", key="r.value", size="small",
                classes="mr-1 mb-1", variant=("lesion_regions.includes(r.value) ? 'flat' : 'outlined'",),
                color="grey-darken-2", click=(table.toggle_region, "[r.value]"),
                raw_attrs=attrs(role="button", title_bound="r.title + ' (predicted/reference)'",
                                aria_label_bound="`Show ${r.title} lesions`",
                                aria_pressed_bound="lesion_regions.includes(r.value)"))
        html.Input(type="number", min="0", step="any", placeholder="≥ mm³", id="lesion-min-volume",
                   style="width: 5.5em; border: 1px solid #bbb; border-radius: 4px; padding: 0 4px",
                   classes="mr-1 mb-1 text-caption", change=(table.set_min_volume, "[$event.target.value]"),
                   raw_attrs=attrs(aria_label="Smallest lesion volume shown (mm³)"))
    with html.Div(classes="d-flex align-center", id="lesion-steps"):
        _button("Next FN", (table.next, "['FN']"), "Next missed lesion (N)", disabled=("!lesions.length",))
        _button("Next FP", (table.next, "['FP']"), "Next false-positive lesion (P)", disabled=("!lesions.length",))
        html.Span("keys N / P (Shift: back)", classes="text-caption text-medium-emphasis ml-1 mb-1")
    grid = f"display: grid; grid-template-columns: {LESION_GRID_TEMPLATE}; align-items: center; column-gap: 4px"
    with html.Div(raw_attrs=attrs(role="table", aria_label="Lesions"), id="lesion-table", classes="text-body-2"):
        with html.Div(style=grid, classes="font-weight-medium text-caption", raw_attrs=attrs(role="row")):
            for column, head, _ in LESION_HEADERS:
                sorted_here = f"lesion_sort === '{column}'"
                html.Div(f"{head}{{{{ {sorted_here} ? (lesion_descending ? '▾' : '▴') : '' }}}}",
                         click=(table.sort, f"['{column}']"), keydown_enter=(table.sort, f"['{column}']"),
                         style="cursor: pointer; white-space: nowrap; user-select: none",
                         raw_attrs=attrs(role="columnheader", tabindex="0", aria_label=f"Sort by {head}",
                                         aria_sort_bound=f"{sorted_here} ? (lesion_descending ? 'descending' : "
                                                         "'ascending') : 'none'"))
        with v.VVirtualScroll(items=("lesions",), height=LESION_ROWS_VISIBLE * LESION_ROW_HEIGHT,
                              item_height=LESION_ROW_HEIGHT, item_key="key", ref="lesionScroll"), v.Template(
                raw_attrs=['v-slot:default="{ item: row }"']), html.Div(
                style=f"{grid}; height: {LESION_ROW_HEIGHT}px; cursor: pointer", classes="lesion-row",
                raw_attrs=attrs(role="button", tabindex="0",
                                class_bound="{'bg-amber-lighten-4': row.key === lesion_focus}",
                                aria_current_bound="row.key === lesion_focus ? 'true' : null",
                                aria_label_bound="`Jump to ${row.kind} lesion ${row.id} (${row.status})`"),
                click=(table.open, "[row.id, row.kind]"), keydown_enter=(table.open, "[row.id, row.kind]")):
            note_cell()  # the row's number, marked ✎ when the reader wrote a note on it (:mod:`.review_folders`)
            html.Div("{{ row.kind === 'reference' ? 'ref' : 'pred' }}")
            with html.Div():
                v.VChip("{{ row.status }}", color=(STATUS_COLOR,), size="x-small")
            html.Div("{{ row.volume }}")
            html.Div("{{ row.pmax }}")
            html.Div("{{ row.pmean }}")
            html.Div("{{ row.region }}", raw_attrs=attrs(title_bound="row.region_title"))
            html.Div("{{ row.slice }}")
    client.ClientStateChange(value="lesion_scroll", change="lesion_scroll >= 0 && trame.refs.lesionScroll "
                                                           "&& trame.refs.lesionScroll.scrollToIndex(lesion_scroll)")
    trigger = html.Div().server.trigger_name(table.key_next)
    client.Script(LESION_KEYS_JS.format(trigger=trigger))


def _curve(binding: ReviewBinding) -> None:
    """The threshold curve (:mod:`.curve`): axes with ticks and titles, a legend, the current threshold (dashed,
    follows the slider in the browser) and the recommended one (grey) marked; a click sets the threshold."""
    _section("Threshold curve")
    label = "Threshold curve: click to set the threshold; the current threshold is marked"
    current_x, recommended_x = CURVE_FRAME.x_expression("threshold"), CURVE_FRAME.x_expression("recommended")
    height = CURVE_FRAME.plot_height
    with html.Div(id="curve", raw_attrs=attrs(role="img", aria_label=label)):
        html.Div("no curve yet", v_if="!curve.series.length", classes="text-caption")
        with html.Div(v_else=True, id="curve-chart", style="cursor: crosshair",
                      click=(binding.curve_click, CLICK_FRACTION)):
            html.Svg(raw_attrs=[f'viewBox="{CURVE_FRAME.view_box}"', 'width="100%"',
                                'style="display: block; background: #fafafa"']).add_child(
                axes_svg(CURVE_FRAME)
                + '<path v-for="s in curve.series" :key="s.label" :d="s.d" :stroke="s.color" '
                  ':stroke-dasharray="s.dash" fill="none" stroke-width="1.3"/>'
                + f'<line id="curve-recommended" v-if="recommended != null" :x1="{recommended_x}" '
                  f':x2="{recommended_x}" y1="0" y2="{height:g}" stroke="{hex_color(RECOMMENDED_MARKER_COLOR)}" '
                  'stroke-width="1.4"/>'
                + f'<line id="curve-marker" :x1="{current_x}" :x2="{current_x}" y1="0" y2="{height:g}" '
                  f'stroke="{hex_color(CURRENT_MARKER_COLOR)}" stroke-dasharray="3,2" stroke-width="1"/>')
        with html.Div(classes="d-flex flex-wrap text-caption", id="curve-legend"):
            with html.Span(v_for="s in curve.series", key="s.label", classes="mr-2 text-no-wrap"):
                html.Svg(raw_attrs=['width="18"', 'height="8"', 'style="vertical-align: middle"']).add_child(
                    '<line x1="0" x2="18" y1="4" y2="4" :stroke="s.color" :stroke-dasharray="s.dash" '
                    'stroke-width="2"/>')
                html.Span(" {{ s.label }}")
            html.Span("┆ current t", classes="mr-2 text-no-wrap", v_show="curve.series.length")
            html.Span("│ recommended", classes="text-no-wrap", style=f"color: {hex_color(RECOMMENDED_MARKER_COLOR)}",
                      v_show="curve.series.length && recommended != null")


def _finish(binding: ReviewBinding) -> None:
    _section("Accept / export")
    _button("Accept", binding.accept, "Accept prediction", disabled=("!has_probability",))
    _button("Re-score", binding.rescore, "Re-score accepted segmentation",
            disabled=("!accepted || !has_reference || running",))
    _button("Export", binding.export, "Export review", disabled=("!has_probability",))
    with html.Div(classes="d-flex align-center", v_show="has_dicom"):  # the inputs came from a DICOM series
        v.VCheckbox(v_model=("export_dicom_seg",), label="DICOM SEG", density="compact", hide_details=True,
                    classes="mr-2", raw_attrs=attrs(aria_label="Also export DICOM SEG"))
        v.VCheckbox(v_model=("export_dicom_pmap",), label="Parametric Map", density="compact", hide_details=True,
                    raw_attrs=attrs(aria_label="Also export the probability as a DICOM Parametric Map"))
    with html.Div(classes="d-flex align-center", v_show="accepted"):
        v.VCheckbox(v_model=("accepted_visible",), label="Show accepted outline", density="compact",
                    hide_details=True, classes="mr-2", raw_attrs=attrs(aria_label="Show accepted outline"))
        v.VSlider(v_model=("accepted_opacity",), min=0.0, max=1.0, step=0.05, name="Accepted opacity",
                  label="Opacity", hide_details=True, density="compact")
    html.Div("Accepted: {{ accepted }}", id="accepted", v_show="accepted", classes="text-caption")
    with html.Div(classes="d-flex align-center mt-1", v_show="accepted"):
        html.Span("Edit", classes="text-caption mr-2")
        with v.VBtnToggle(v_model=("edit_tool",), mandatory=True, density="compact", variant="outlined",
                          divided=True, color="primary", classes="mr-2",
                          raw_attrs=attrs(role="group", aria_label="Edit tool")):
            for tool, text in (("none", "None"), ("brush", "Brush"), ("erase", "Erase")):
                v.VBtn(text, value=tool, size="small", raw_attrs=attrs(aria_label=f"{text} tool"))
        _button("Undo", binding.undo_edit, "Undo edit", disabled=("!can_undo",))
    html.Div("Export folder: {{ export_dir }}", classes="text-caption")
    html.Div("{{ exported }}", id="exported", v_show="exported", classes="text-caption")
    _saved_review(binding)


def _saved_review(binding: ReviewBinding) -> None:
    """Save / open the whole review, the HTML report, and the note on the lesion in focus (:mod:`.review_folders`)."""
    folders = binding.folders
    _section("Saved review and report")
    _button("Save review", folders.save, "Save review", disabled=("!has_probability || running",))
    _button("Export report", folders.export_report, "Export report", disabled=("!has_probability || running",))
    html.Div("Saved: {{ saved_review }}", id="saved-review", v_show="saved_review", classes="text-caption")
    html.Div("Report: {{ report_file }}", id="report-file", v_show="report_file", classes="text-caption")
    with html.Div(classes="d-flex align-center mt-1"):
        v.VTextField(v_model=("path_review",), label="Saved review folder", density="compact", hide_details=True,
                     classes="mr-2", raw_attrs=attrs(aria_label="Saved review folder"))
        _button("Open review", folders.open, "Open saved review", disabled=("running || !path_review",))
    _button("Open the browsed folder as a review", (folders.open, "[browse_folder]"), "Open browsed saved review",
            disabled=("running || !browse_folder",), v_show="browse_folder")  # the file picker's folder (.browse)
    note_panel(folders)
    if binding.compare is not None:
        _compare(binding.compare)


def _compare(compare: Any) -> None:
    """Two maps side by side (:mod:`.compare`): map B's file, its own slider, both maps' metrics in two columns."""
    _section("Compare a second map (side by side)")
    with html.Div(classes="d-flex align-center"):
        v.VTextField(v_model=("path_compare",), label="Second probability map (map B)", density="compact",
                     hide_details=True, classes="mr-2", raw_attrs=attrs(aria_label="Second probability map"))
        _button("Compare", compare.start, "Compare side by side", disabled=("!has_probability || !path_compare",))
        _button("Stop", compare.stop, "Stop comparing", disabled=("!comparing",))
    with html.Div(classes="d-flex align-center"):
        v.VSelect(v_model=("compare_model",), items=("models",), item_title="title", item_value="value",
                  label="…or run a model as map B", density="compact", hide_details=True, classes="mr-2",
                  no_data_text="no models in the zoo", raw_attrs=attrs(aria_label="Model for map B"))
        _button("Run as map B", compare.start_run, "Map B from the chosen model",
                disabled=("!has_probability || !compare_model || running || compare_running",))
    v.VProgressLinear(indeterminate=True, v_show="compare_running", height=4, color="deep-purple")
    with html.Div(v_show="comparing", id="compare-panel"):
        html.Div("Left view: map A ({{ case_name }}) · right view: map B ({{ compare_name }})",
                 classes="text-caption")
        with html.Div(classes="d-flex align-center"):
            v.VSlider(v_model=("threshold_b",), min=0.0, max=1.0, step=0.01, name="Map B threshold",
                      label="Map B threshold", hide_details=True, color="deep-purple", id="threshold-b-slider")
            html.Div("{{ Number(threshold_b).toFixed(2) }}", id="threshold-b-value",
                     classes="text-body-2 font-weight-medium ml-2", style="min-width: 2.5em")
        html.Div("A: {{ summary }}", id="compare-summary-a", classes="text-caption")
        html.Div("B: {{ compare_summary }}", id="compare-summary-b", classes="text-caption")
        with v.VTable(density="compact", id="compare-table", raw_attrs=attrs(aria_label="Metrics of map A and B")):
            with html.Thead(), html.Tr():
                html.Th("Metric")
                html.Th("Map A", classes="text-right")
                html.Th("Map B", classes="text-right")
            with html.Tbody(), html.Tr(v_for="row in compare_rows", key="row.key"):
                html.Td("{{ row.name }}")
                html.Td("{{ row.a }}", classes="text-right")
                html.Td("{{ row.b }}", classes="text-right")


def note_panel(folders: Any) -> None:
    """The note on the lesion in focus (the row last clicked or reached by next FN/FP): suggested words or free
    text, kept by the lesion's identity (:mod:`LesionSegLogic.lesion_notes`)."""
    with html.Div(v_show="lesion_focus", id="lesion-note", classes="mt-1"):
        html.Div("Note on {{ lesion_focus.replace(':', ' lesion ') }}"
                 "{{ lesion_notes[lesion_focus] ? ': ' + lesion_notes[lesion_focus] : '' }}",
                 classes="text-caption", id="lesion-note-text")
        with html.Div(classes="d-flex flex-wrap align-center"):
            v.VBtn("{{ word }}", v_for="word in note_suggestions", key="word", size="x-small", variant="tonal",
                   classes="mr-1 mb-1", click=(folders.set_note, "[lesion_focus, word]"),
                   raw_attrs=attrs(aria_label_bound="`Note: ${word}`"))
        html.Input(type="text", placeholder="free text, Enter to keep", id="lesion-note-input",
                   style="border: 1px solid #bbb; border-radius: 4px; width: 100%; padding: 0 4px",
                   keydown_enter=(folders.set_note, "[lesion_focus, $event.target.value]"),
                   raw_attrs=attrs(aria_label="Note on the lesion in focus"))
        html.Div("{{ notes_count }} notes in this review", classes="text-caption", v_show="notes_count")


def note_cell() -> None:
    """The lesion table's number cell (``row`` in scope) with the reader's note: ``3 ✎``, the note as its tooltip
    (:mod:`.review_folders` keeps ``lesion_notes`` for the rows at the current threshold)."""
    html.Div("{{ row.id }}{{ lesion_notes[row.key] ? ' ✎' : '' }}", classes="lesion-number",
             raw_attrs=attrs(title_bound="lesion_notes[row.key] || ''"))


_ENTRY_ICON = "e.kind === 'folder' ? '📁' : (e.kind === 'dicom' ? '🗂' : '🖼')"


def _file_picker(binding: ReviewBinding, browser: BrowserBinding) -> None:
    """The file picker (:mod:`.browse`): the allowed folders listed by the server; a click opens a folder or
    selects an image (or DICOM series folder), the role buttons put it in the panel's path fields, and the
    open buttons read them as typed paths are read."""
    def open_listed_case() -> None:
        if browser.use_folder_as_case():
            binding.open_case()

    with (v.VExpansionPanels(variant="accordion", classes="mt-2"),
          v.VExpansionPanel(title="Browse the allowed folders"), v.VExpansionPanelText(), html.Div(id="file-picker")):
        with html.Div(classes="d-flex align-center mb-1"):
            _button("Up", browser.up, "Folder up", disabled=("!browse_can_up",))
            html.Div("{{ browse_folder || 'allowed folders' }}", id="browse-folder",
                     classes="text-caption text-truncate", style="direction: rtl; text-align: left")
        with html.Div(style="max-height: 190px; overflow-y: auto; border: 1px solid #ddd; border-radius: 4px",
                      raw_attrs=attrs(role="list", aria_label="Folder contents")):
            html.Div("empty", v_if="!browse_entries.length", classes="text-caption pa-1")
            html.Div("{{ " + _ENTRY_ICON + " }} {{ e.name }}", v_for="e in browse_entries", key="e.path",
                     classes="text-body-2 px-1 text-truncate browse-entry",
                     style=("{cursor: 'pointer', background: e.path === browse_selected ? '#d6e4ff' : ''}",),
                     click=(browser.activate, "[e.path, e.kind]"),
                     keydown_enter=(browser.activate, "[e.path, e.kind]"),
                     raw_attrs=attrs(role="button", tabindex="0", aria_label_bound="`${e.kind} ${e.name}`"))
        html.Div("Selected: {{ browse_selected.split('/').pop() }}", v_show="browse_selected",
                 classes="text-caption mt-1")
        with html.Div(classes="d-flex flex-wrap mt-1"):
            for role, title in ROLES.items():
                _button(f"Use as {title}", (browser.use, f"['{role}']"), f"Use as {title}",
                        disabled=("!browse_selected",))
        with html.Div(classes="text-caption", id="picked-files"):
            for role, title in ROLES.items():
                html.Div(f"{title}: {{{{ (path_{role} || '—').split('/').pop() }}}}")
        _button("Open chosen files", binding.open_files, "Open chosen files", disabled=("running || !path_flair",))
        _button("Open this folder as a case", open_listed_case, "Open this folder as a case",
                disabled=("running || !browse_folder",))


def _view_bar(binding: ReviewBinding) -> None:
    """The views' controls in the app bar: the layout (axial large / sagittal large for a cord; follows the opened
    case's anatomy until picked), the 3-D view with the lesion surfaces, and the mouse mode (navigate /
    window-level drag), :mod:`.view_layouts`."""
    controls = getattr(binding.viewport, "controls", None)
    if controls is None:
        return
    with v.VBtnToggle(model_value=("view_layout",), mandatory=True, density="compact", variant="outlined",
                      divided=True, classes="mr-3", id="layout-toggle",
                      raw_attrs=attrs(role="group", aria_label="View layout")):
        v.VBtn("{{ item.title }}", v_for="item in view_layouts", key="item.value", value=("item.value",),
               size="small", click=(controls.choose_layout, "[item.value]"),
               raw_attrs=attrs(aria_label_bound="`Layout: ${item.title}`"))
    v.VBtn("3D", click=(controls.set_3d, "[!show_3d]"), size="small", classes="mr-3", id="toggle-3d",
           variant=("show_3d ? 'flat' : 'outlined'",),
           raw_attrs=attrs(aria_label="Lesions in 3D", aria_pressed_bound="String(!!show_3d)"))
    with v.VBtnToggle(model_value=("mouse_mode",), mandatory=True, density="compact", variant="outlined",
                      divided=True, classes="mr-3", id="mouse-mode",
                      raw_attrs=attrs(role="group", aria_label="Mouse mode")):
        v.VBtn("Navigate", value="navigate", size="small", click=(controls.set_mouse_mode, "['navigate']"),
               raw_attrs=attrs(aria_label="Navigate views"))
        v.VBtn("Window/level", value="window_level", size="small",
               click=(controls.set_mouse_mode, "['window_level']"), disabled=("edit_tool && edit_tool !== 'none'",),
               raw_attrs=attrs(aria_label="Window/level drag"))


#: The panel: a reading column (slider, summary, lesion table) and a column with the curve on top of the rest
#: (inputs, model, metrics, accept/export; it scrolls on its own), so slider, summary, table and curve are in
#: sight together on a 1280 × 800 screen (Testing/test_web_browser_views.py measures it).
READING_WIDTH, SETUP_WIDTH = 420, 280
PANEL_WIDTH = READING_WIDTH + SETUP_WIDTH
_COLUMN = "height: 100%; overflow-y: auto; min-width: 0"


def build_page(server: Any, layout_manager: Any, binding: ReviewBinding,
               browser: BrowserBinding | None = None) -> VAppLayout:
    """The whole page; ``layout_manager`` (trame-slicer) places the slice views; ``browser``: the file picker."""
    server.state.trame__title = "LesionSeg review"
    with VAppLayout(server, full_height=True) as page:
        with v.VAppBar(density="compact", color="primary"):
            v.VToolbarTitle("LesionSeg review")
            _view_bar(binding)
            v.VProgressCircular(indeterminate=("!!trame__busy",), size=18, width=2, classes="mr-4")
        with v.VNavigationDrawer(permanent=True, width=PANEL_WIDTH, location="left"), html.Div(
                style=f"display: grid; grid-template-columns: {READING_WIDTH}px {SETUP_WIDTH}px; "
                      "grid-template-rows: minmax(0, 1fr); height: 100%; overflow: hidden",
                raw_attrs=attrs(role="region", aria_label="LesionSeg panel")):
            with html.Div(style=_COLUMN, classes="px-3 pb-2", id="reading-column"):
                v.VAlert(text=("message",),
                         type=("['error', 'warning'].includes(message_kind) ? message_kind : 'info'",),
                         density="compact", variant="tonal", id="message", classes="mt-2 text-body-2",
                         raw_attrs=attrs(role="status", aria_live="polite"))
                _review(binding)
                _lesions(binding)
            with html.Div(style="height: 100%; display: flex; flex-direction: column; min-width: 0",
                          classes="border-s"):
                with html.Div(classes="px-3", id="curve-column"):
                    _curve(binding)
                with html.Div(style="flex: 1; overflow-y: auto; min-height: 0", classes="px-3 pb-3",
                              id="setup-column"):
                    _inputs(binding)
                    if browser is not None:
                        _file_picker(binding, browser)
                    _model(binding)
                    _metrics()
                    _finish(binding)
        with v.VMain(), html.Div(style="position: relative; width: 100%; height: calc(100vh - 48px)"):
            layout_manager.initialize_layout_grid(page)
    return page
