"""The page's charts, as Altair specs built from plain Python values.

Kept out of app.py so the page reads as wiring. Each chart is small and
fixed in shape (axes that do not jump between drawings), and built from a
list of rows rather than a DataFrame so the page does not wait for pandas.
"""

from __future__ import annotations

import altair as alt

HIGHLIGHT = "#e4572e"
MUTED = "#9aa5b1"
SERIES = {"training": "#1f77b4", "validation": "#e4572e"}


def probabilities_chart(probabilities, predicted: int) -> alt.Chart:
    """Ten bars, digits 0-9 always on the axis, the scale fixed at 0-1, the predicted bar in colour."""
    rows = [
        {"digit": str(d), "probability": float(p), "label": f"{p:.0%}"}
        for d, p in enumerate(probabilities)
    ]
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("digit:N", sort=[str(d) for d in range(10)], title=None,
                axis=alt.Axis(labelAngle=0, labelFontSize=14)),
    )
    bars = base.mark_bar().encode(
        y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), title="probability",
                axis=alt.Axis(format="%", tickCount=5)),
        color=alt.condition(alt.datum.digit == str(predicted), alt.value(HIGHLIGHT), alt.value(MUTED)),
        tooltip=[alt.Tooltip("digit:N"), alt.Tooltip("probability:Q", format=".1%")],
    )
    text = base.mark_text(dy=-8, fontSize=11).encode(
        y=alt.Y("probability:Q"), text="label:N",
        opacity=alt.condition(alt.datum.probability >= 0.01, alt.value(1), alt.value(0)),
    )
    return (bars + text).properties(height=220)


def curves_chart(points, metric: str) -> alt.Chart:
    """Training and validation `metric` ("loss" or "accuracy") against epochs, as they grow."""
    rows = [{"epoch": p.epoch, "split": p.split, metric: getattr(p, metric)} for p in points]
    y_scale = alt.Scale(zero=False) if metric == "loss" else alt.Scale(domain=[min([0.8] + [r[metric] for r in rows]), 1])
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_line(point=alt.OverlayMarkDef(size=20))
        .encode(
            x=alt.X("epoch:Q", title="epoch", scale=alt.Scale(domainMin=0)),
            y=alt.Y(f"{metric}:Q", title=metric, scale=y_scale,
                    axis=alt.Axis(format="%") if metric == "accuracy" else alt.Axis()),
            color=alt.Color("split:N", scale=alt.Scale(domain=list(SERIES), range=list(SERIES.values())),
                            legend=alt.Legend(orient="bottom", title=None)),
        )
        .properties(height=180)
    )


def confusion_chart(confusion: list[list[int]]) -> alt.Chart:
    """True digit down, predicted across; colour is the share of each true digit, counts written in."""
    rows = []
    for true, row in enumerate(confusion):
        total = max(1, sum(row))
        for pred, count in enumerate(row):
            rows.append({"true": str(true), "predicted": str(pred), "count": count, "share": count / total})
    digits = [str(d) for d in range(10)]
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("predicted:N", sort=digits, axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("true:N", sort=digits),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("share:Q", scale=alt.Scale(scheme="blues", type="sqrt", domain=[0, 1]), legend=None),
        tooltip=["true:N", "predicted:N", "count:Q"],
    )
    text = base.mark_text(fontSize=10).encode(
        text="count:Q",
        color=alt.condition(alt.datum.share > 0.5, alt.value("white"), alt.value("#333")),
        opacity=alt.condition(alt.datum.count > 0, alt.value(1), alt.value(0)),
    )
    return (cells + text).properties(height=300)
