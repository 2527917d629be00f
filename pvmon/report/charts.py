"""The report's two charts, drawn server-side with matplotlib (Agg, no network).

- daily energy of the scope [kWh] (the estimated part lighter) against expected;
- the station ranking: every station's specific yield [kWh/kWp], lowest first, against
  the model's expected specific yield for the scope.

Each chart is SVG (inline in the HTML page; text drawn as paths in the embedded CJK
font, so a browser needs no Chinese font) or PNG (in the PDF). Figures are made with the
object API (never pyplot's global state), so requests can draw in parallel threads.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any, Literal

from pvmon.fonts import cjk_font_path
from pvmon.report.data import MonthReport

__all__ = ["BAR", "daily_chart", "ranking_chart"]

#: colour of the measured energy bars (the page test looks for it)
BAR = "#1f77b4"
_ESTIMATED = "#9ecae1"
_EXPECTED = "#d62728"
_LABELLED_STATIONS = 40  # more stations than this: bars without codes
Format = Literal["svg", "png"]
_font: dict[str, Any] = {}


def _cjk() -> Any:
    """The font properties of the embedded CJK font (registered once)."""
    if "props" not in _font:
        from matplotlib import font_manager

        path = cjk_font_path()
        font_manager.fontManager.addfont(str(path))
        _font["props"] = font_manager.FontProperties(fname=str(path))
    return _font["props"]


def _figure(width_in: float, height_in: float) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _render(fig: Any, fmt: Format, salt: str) -> bytes:
    import matplotlib

    out = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": salt}):
        fig.savefig(out, format=fmt, dpi=150 if fmt == "png" else 100, metadata=None
                    if fmt == "png" else {"Date": None})  # fmt: skip
    return out.getvalue()


def _style(ax: Any, title: str, ylabel: str) -> None:
    font = _cjk()
    ax.set_title(title, fontproperties=font, fontsize=12)
    ax.set_ylabel(ylabel, fontproperties=font)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def daily_chart(report: MonthReport, fmt: Format) -> bytes:
    """Daily energy of the scope [kWh] with its estimated part, against expected."""
    fig, ax = _figure(6.0, 3.2)
    days = [d.day.day for d in report.days]
    measured = [(d.energy_wh - d.estimated_wh) / 1000 for d in report.days]
    estimated = [d.estimated_wh / 1000 for d in report.days]
    expected = [d.expected_wh / 1000 for d in report.days]
    font = _cjk()
    if days:
        ax.bar(days, measured, color=BAR, label="实测")
        ax.bar(days, estimated, bottom=measured, color=_ESTIMATED, label="估算")
        ax.plot(days, expected, color=_EXPECTED, marker=".", linewidth=1.2, label="预期")
        top = max(max(e + x for e, x in zip(measured, estimated, strict=True)), max(expected))
        ax.set_ylim(0, top * 1.25 if top > 0 else 1)
        ax.legend(prop=font, frameon=False, loc="upper right", ncols=3)
        ax.set_xlim(0.4, max(days) + 0.6)
    else:
        ax.text(0.5, 0.5, "无数据", ha="center", va="center", transform=ax.transAxes,
                fontproperties=font)  # fmt: skip
    ax.set_xlabel(f"{report.month.month}月 日期", fontproperties=font)
    _style(ax, "每日发电量", "kWh")
    return _render(fig, fmt, "daily")


def ranking_chart(report: MonthReport, fmt: Format) -> bytes:
    """Every station's specific yield [kWh/kWp], lowest first, against expected."""
    fig, ax = _figure(6.0, 3.2)
    font = _cjk()
    ranked = sorted(
        (s for s in report.stations if s.figures.specific_yield is not None),
        key=lambda s: (s.figures.specific_yield or Decimal(0), s.code),
    )
    if ranked and report.window is not None:
        xs = list(range(len(ranked)))
        ax.bar(xs, [float(s.figures.specific_yield or 0) for s in ranked], color=BAR, width=0.8)
        totals = report.totals
        if totals.capacity_kwp > 0:
            expected = totals.expected_wh / 1000 / float(totals.capacity_kwp)
            ax.axhline(expected, color=_EXPECTED, linewidth=1.2, label="预期")
            top = max(float(ranked[-1].figures.specific_yield or 0), expected)
            ax.set_ylim(0, top * 1.2 if top > 0 else 1)
            ax.legend(prop=font, frameon=False, loc="upper left")
        if len(ranked) <= _LABELLED_STATIONS:
            ax.set_xticks(xs, [s.code for s in ranked], rotation=90, fontsize=6)
        else:
            ax.set_xticks([])
        ax.set_xlim(-0.6, len(ranked) - 0.4)
    else:
        ax.text(0.5, 0.5, "无数据", ha="center", va="center", transform=ax.transAxes,
                fontproperties=font)  # fmt: skip
    ax.set_xlabel(f"电站（{len(ranked)}座，由低到高）", fontproperties=font)
    _style(ax, "电站等效利用小时排名", "kWh/kWp")
    return _render(fig, fmt, "ranking")
