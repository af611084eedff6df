"""The page's charts, as Altair specs (the live training curves as Vega-Lite dicts) built from plain values.

Kept out of app.py so the page reads as wiring. Each chart is small and
fixed in shape (axes that do not jump between drawings), and built from a
list of rows rather than a DataFrame so the page does not wait for pandas.
"""

from __future__ import annotations

import altair as alt

from ui.theme import HIGHLIGHT, MUTED, SERIES


def curves_spec(points, metric: str) -> dict:
    """Training and validation `metric` ("loss" or "accuracy") against epochs, as they grow: a Vega-Lite spec.

    A dict for `st.vega_lite_chart`, not an Altair chart: the page redraws these while a network trains, on
    the cores the training uses, and building and validating the two as Altair charts at each refresh costs the
    server more than the rest of the refresh.
    """
    rows = [{"epoch": p.epoch, "split": p.split, metric: getattr(p, metric)} for p in points]
    y = {"field": metric, "type": "quantitative", "title": metric, "scale": {"zero": False}}
    if metric == "accuracy":
        lowest = min([0.8] + [r[metric] for r in rows])
        y.update(scale={"domain": [lowest, 1]}, axis={"format": "%"})
    return {
        "data": {"values": rows},
        "mark": {"type": "line", "point": {"size": 20}},
        "encoding": {
            "x": {"field": "epoch", "type": "quantitative", "title": "epoch", "scale": {"domainMin": 0}},
            "y": y,
            "color": {
                "field": "split",
                "type": "nominal",
                "scale": {"domain": list(SERIES), "range": list(SERIES.values())},
                "legend": {"orient": "bottom", "title": None},
            },
        },
        "height": 120,
        # The plot itself is `height` tall; left to Streamlit's default ("fit"), the sidebar's narrow column
        # squeezed it to a flat line about 20 px high under its axis and legend.
        "autosize": {"type": "fit-x", "contains": "padding"},
    }


def confusion_chart(confusion: list[list[int]], selectable: bool = False) -> alt.Chart:
    """True digit down, predicted across; colour is the share of each true digit, counts written in.

    With `selectable`, a click on a cell selects it (Streamlit returns it as
    the selection "cell", with its true and predicted digit).
    """
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
    if selectable:
        pick = alt.selection_point(name="cell", fields=["true", "predicted"], on="click", empty=False)
        cells = cells.add_params(pick).encode(
            stroke=alt.condition(pick, alt.value(HIGHLIGHT), alt.value(None)),
            strokeWidth=alt.condition(pick, alt.value(2), alt.value(0)),
        )
    text = base.mark_text(fontSize=10).encode(
        text="count:Q",
        color=alt.condition(alt.datum.share > 0.5, alt.value("white"), alt.value("#333")),
        opacity=alt.condition(alt.datum.count > 0, alt.value(1), alt.value(0)),
    )
    return (cells + text).properties(height=300)


def activation_chart(layer, strongest, columns: int = 40) -> alt.Chart:
    """A layer's units as a grid of cells coloured by activation; the strongest ones outlined."""
    strongest = {int(u) for u in strongest}
    rows = [
        {"unit": i, "row": i // columns, "column": i % columns, "activation": float(a), "strong": i in strongest}
        for i, a in enumerate(layer)
    ]
    top = max(1e-6, float(max(layer)))
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("column:O", axis=None),
        y=alt.Y("row:O", axis=None),
        tooltip=["unit:Q", alt.Tooltip("activation:Q", format=".2f")],
    )
    cells = base.mark_rect().encode(
        color=alt.Color("activation:Q", scale=alt.Scale(scheme="greys", domain=[0, top]), legend=None)
    )
    marks = base.transform_filter(alt.datum.strong).mark_rect(fill=None, stroke=HIGHLIGHT, strokeWidth=2)
    height = 12 * (-(-len(rows) // columns))
    return (cells + marks).properties(height=height)


def per_class_chart(per_class_accuracy) -> alt.Chart:
    """Accuracy of each digit, 0-9 on the axis, zoomed to where the differences are."""
    rows = [{"digit": str(d), "accuracy": float(a)} for d, a in enumerate(per_class_accuracy)]
    low = min(0.9, min(r["accuracy"] for r in rows))
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_bar(color=MUTED)
        .encode(
            x=alt.X("digit:N", sort=[str(d) for d in range(10)], axis=alt.Axis(labelAngle=0)),
            y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[low, 1], zero=False), axis=alt.Axis(format="%")),
            y2=alt.datum(low),  # bars rise from the bottom of the zoomed scale, not from zero
            tooltip=["digit:N", alt.Tooltip("accuracy:Q", format=".2%")],
        )
        .properties(height=160)
    )


def counts_chart(counts) -> alt.Chart:
    """How many samples of each digit."""
    rows = [{"digit": str(d), "samples": int(n)} for d, n in enumerate(counts)]
    # A fixed whole-number axis: an empty collection would otherwise get a 0.000000 scale.
    top = max(5, *(int(n) for n in counts))
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_bar(color=HIGHLIGHT)
        .encode(
            x=alt.X("digit:N", sort=[str(d) for d in range(10)], axis=alt.Axis(labelAngle=0)),
            y=alt.Y("samples:Q", scale=alt.Scale(domain=[0, top]), axis=alt.Axis(tickMinStep=1, format="d")),
        )
        .properties(height=140)
    )
