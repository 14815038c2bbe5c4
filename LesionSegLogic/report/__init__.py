"""The review report (issue 16): one self-contained, offline HTML file to hand over.

:mod:`.data` gathers what a report shows (:class:`ReportData`, from a threshold engine at one threshold),
:mod:`.figures` draws its pictures as PNG bytes, :mod:`.html` writes the page, :mod:`.saved` builds a report from a
saved review folder without Slicer (``lesionseg report``).
"""

from LesionSegLogic.report.data import ReportData, ReportLesion, report_data
from LesionSegLogic.report.html import render_html, write_report

__all__ = ["ReportData", "ReportLesion", "render_html", "report_data", "write_report"]
