"""The monthly generation report: data (pure), the database edge, the site model, and
its renderings (XLSX, PDF, HTML page with charts). See :mod:`pvmon.report.data`."""

from pvmon.report.data import MonthReport, build_month_report, parse_month
from pvmon.report.queries import month_report

__all__ = ["MonthReport", "build_month_report", "month_report", "parse_month"]
