"""The HTML report (issue 16): every section present, self-contained (data: PNGs, no address, no script), user text
escaped, the numbers those of the review; from a saved review folder (``lesionseg report``, no Slicer) and from a
live session."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

slicer = pytest.importorskip("slicer")

from LesionSegLib.headless import make_scene  # noqa: E402
from LesionSegLib.parameters import ReviewParameters  # noqa: E402
from LesionSegLib.review_report import export_report  # noqa: E402
from LesionSegLib.saved_review import lesion_keys, save_review  # noqa: E402
from LesionSegLib.session import ReviewSession  # noqa: E402
from web_cases import synthetic_case, write_case  # noqa: E402

from LesionSegLogic.cli import main  # noqa: E402
from LesionSegLogic.provenance import file_sha256  # noqa: E402
from LesionSegLogic.report import render_html, report_data  # noqa: E402
from LesionSegLogic.report.html import SECTIONS  # noqa: E402
from LesionSegLogic.threshold import ThresholdEngine  # noqa: E402

pytestmark = pytest.mark.slicer
NASTY = "<script>alert('x')</script> & \"quoted\""


class Page(HTMLParser):
    """The parts of a report page the tests look at."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.images: list[str] = []
        self.scripts = 0
        self.rows: dict[str, int] = {}
        self._section = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        if tag == "section":
            self._section = attrs.get("id", "")
            self.ids.append(self._section)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "script":
            self.scripts += 1
        if tag == "tr":
            self.rows[self._section] = self.rows.get(self._section, 0) + 1


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("report")
    case = write_case(root / "case <b>&'")  # a folder name that needs escaping
    session = ReviewSession(make_scene().scene, parameters=ReviewParameters(rule="anima"))
    session.set_inputs(str(case / "flair.nii.gz"))
    session.set_reference(str(case / "lesions.nii.gz"))
    session.load_probability(str(case / "probability.nii.gz"), 0.4)
    session.set_threshold(0.35)
    missed = next(r for r in session.lesions if r.status == "FN")
    key = next(k for k in lesion_keys(session) if k.startswith("reference") and
               k.endswith(f":{round(missed.volume_mm3 / session.flair.voxel_volume)}"))
    save_review(session, root / "saved", notes={key: NASTY})
    return {"root": root, "case": case, "session": session, "folder": root / "saved", "key": key}


def check_page(text: str, session: ReviewSession) -> Page:
    page = Page(text)
    assert page.ids == [section for section, _ in SECTIONS]
    assert page.scripts == 0 and not re.search(r"(src|href)=\"(https?:)?//", text)  # nothing fetched
    assert len(page.images) >= 5 and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert page.rows["lesions"] == 1 + len(session.lesions)  # header + one row per lesion
    metrics = session.metrics["lesion"]
    assert f"<td>Missed lesions (FN)</td><td class=\"n\">{metrics['fn']}</td>" in text
    assert NASTY not in text and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in text
    assert "case <b>" not in text and "case &lt;b&gt;&amp;&#x27;" in text  # the file name, escaped
    assert file_sha256(session.source_files["probability"]) in text
    assert "Regions were not computed" in text
    return page


def test_lesionseg_report_writes_the_saved_review(saved, capsys) -> None:
    assert main(["report", str(saved["folder"])]) == 0
    written = Path(capsys.readouterr().out.strip())
    assert written == saved["folder"] / "report.html"
    check_page(written.read_text(encoding="utf-8"), saved["session"])
    assert main(["report", str(saved["folder"])]) == 2  # no silent overwrite
    assert "--force" in capsys.readouterr().err


def test_the_report_of_a_live_session_has_the_same_sections(saved) -> None:
    path = export_report(saved["session"], saved["root"] / "live.html", notes={saved["key"]: NASTY})
    check_page(path.read_text(encoding="utf-8"), saved["session"])


def test_a_changed_input_stops_the_report_with_one_line(saved, capsys, tmp_path) -> None:
    case = write_case(tmp_path / "case")
    session = ReviewSession(make_scene().scene)
    session.set_inputs(str(case / "flair.nii.gz"))
    session.load_probability(str(case / "probability.nii.gz"), 0.5)
    save_review(session, tmp_path / "saved")
    (case / "probability.nii.gz").write_bytes((case / "flair.nii.gz").read_bytes())
    assert main(["report", str(tmp_path / "saved")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "probability.nii.gz" in err and "changed" in err


def test_region_counts_and_load_are_counted_from_the_rows() -> None:
    flair, reference, probability = synthetic_case()
    engine = ThresholdEngine(flair.with_array(probability), flair.spacing, reference=reference, rule="anima")
    rows = engine.at(0.3).lesions
    regions = {(r.kind, int(r.id)): ("periventricular" if r.id % 2 else "deep_white_matter") for r in rows}
    data = report_data(flair, engine, 0.3, provenance={"inputs": [], "models": []}, regions=regions,
                       regions_method="a test rule")
    predicted = [r for r in rows if r.kind == "predicted"]
    assert data.load("predicted") == (len(predicted), pytest.approx(sum(r.volume_mm3 for r in predicted)))
    expected = sum(1 for r in predicted if r.id % 2)
    assert data.region_counts("predicted")["periventricular"][0] == expected
    text = render_html(data)
    assert "periventricular (DIS area)" in text and "deep white matter" in text and "a test rule" in text
    assert np.isfinite(data.curve_thresholds).all() and len(data.curve_metrics) == len(data.curve_thresholds)
