"""SVG charts of the load and progress reports, drawn with matplotlib's object API (no
pyplot global state, so rendering is safe in worker threads)."""

from __future__ import annotations

import io

from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

from app.analytics import schemas as s

COLOURS = ("#1f6f8b", "#e07a1f", "#4c9a2a", "#b23a48", "#6b4c9a")


def _svg(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasSVG(figure).print_svg(buffer)  # type: ignore[no-untyped-call]
    return buffer.getvalue()


# Where the two axes sit, as fractions of the figure: fixed, where matplotlib's constrained
# layout measured every tick label, title and legend again on each chart (about half of a
# chart's CPU). Room is left for tick labels of up to six characters beside each axis, the
# bottom axis' dates turned 45 degrees below it and a title above each.
LOAD_AXES = {"left": 0.13, "right": 0.895, "bottom": 0.12, "top": 0.945, "hspace": 0.22}
# The progress chart's dates are centred on their ticks, so the last one needs room on the right.
PROGRESS_AXES = {"left": 0.10, "right": 0.94, "bottom": 0.12, "top": 0.945, "hspace": 0.22}
# A title's height is fixed too: above the axis with nothing on its top edge, where matplotlib
# would otherwise measure every axis' tick labels to place it (a quarter of what was left).
TITLE_Y = 1.0


def _empty(axis: object, message: str) -> None:
    axis.text(0.5, 0.5, message, ha="center", va="center", transform=axis.transAxes, fontsize=11)  # type: ignore[attr-defined]


def load_chart(report: s.LoadReport) -> bytes:
    figure = Figure(figsize=(7, 5))
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw=LOAD_AXES)
    labels = [w.week_start.strftime("%d %b") for w in report.weeks]
    x = range(len(labels))
    top.bar(x, [w.load for w in report.weeks], color=COLOURS[0], label="session load (RPE x min)")
    top.set_ylabel("load")
    top.set_title("Weekly training load", y=TITLE_Y)
    ratio = top.twinx()
    ratio.plot(
        x,
        [w.acwr if w.acwr is not None else float("nan") for w in report.weeks],
        color=COLOURS[1],
        marker="o",
        label="acute:chronic ratio",
    )
    ratio.axhspan(0.8, 1.3, color=COLOURS[2], alpha=0.12)
    ratio.set_ylabel("acute:chronic")
    bottom.bar(
        x,
        [w.running_km for w in report.weeks],
        color=[COLOURS[3] if w.distance_warning else COLOURS[0] for w in report.weeks],
    )
    bottom.set_ylabel("running km")
    bottom.set_title(f"Running distance (red: up more than {report.threshold_pct:g}% on the week before)", y=TITLE_Y)
    bottom.set_xticks(list(x), labels, rotation=45, ha="right")
    if not report.weeks or all(w.load == 0 and w.running_km == 0 for w in report.weeks):
        _empty(top, "nothing logged in this period")
    return _svg(figure)


def progress_chart(report: s.ProgressReport) -> bytes:
    figure = Figure(figsize=(7, 5))
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw=PROGRESS_AXES)  # one time axis for strength and pain
    bottom.xaxis.set_major_formatter(DateFormatter("%d %b"))  # type: ignore[no-untyped-call]
    if report.sessions:
        days = [p.day for p in report.sessions]
        top.plot(
            days, [p.e1rm_epley or float("nan") for p in report.sessions], marker="o", color=COLOURS[0], label="Epley"
        )
        top.plot(
            days,
            [p.e1rm_brzycki or float("nan") for p in report.sessions],
            marker="s",
            color=COLOURS[1],
            label="Brzycki",
        )
        top.legend(loc="upper left")
    else:
        _empty(top, "no sets of this exercise logged" if report.exercise else "choose an exercise")
    top.set_title(f"Estimated 1RM{': ' + report.exercise if report.exercise else ''} (kg)", y=TITLE_Y)
    for n, (site, weeks) in enumerate(report.pain.items()):
        bottom.plot(
            [w.week_start for w in weeks],
            [w.mean_pain for w in weeks],
            marker="o",
            color=COLOURS[n % len(COLOURS)],
            label=site,
        )
    if report.pain:
        bottom.legend(loc="upper left")
    else:
        _empty(bottom, "no pain check-ins in this period")
    bottom.set_ylim(0, 10)
    bottom.tick_params(axis="x", labelrotation=45)
    bottom.set_title("Morning pain by site (weekly mean, 0-10)", y=TITLE_Y)
    return _svg(figure)
