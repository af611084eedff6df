"""The page's charts and small images: valid, fixed in shape, and honest about empty data."""

import io

import altair as alt
import numpy as np
import pytest
from PIL import Image

from ui import keys
from ui.charts import activation_chart, confusion_chart, counts_chart, curves_spec, per_class_chart
from ui.pictures import diverging, enlarge, overlay


def spec(chart):
    return chart.to_dict()  # Altair validates the Vega-Lite spec here


def test_an_empty_collection_gets_a_whole_number_axis():
    y = spec(counts_chart([0] * 10))["encoding"]["y"]
    assert y["scale"]["domain"] == [0, 5] and y["axis"]["format"] == "d"
    assert spec(counts_chart([0, 12, 0, 0, 0, 0, 0, 0, 0, 0]))["encoding"]["y"]["scale"]["domain"] == [0, 12]


def test_every_chart_builds_a_valid_spec():
    class Point:
        def __init__(self, epoch, split, loss, accuracy):
            self.epoch, self.split, self.loss, self.accuracy = epoch, split, loss, accuracy

    points = [Point(1, "training", 0.5, 0.8), Point(1, "validation", 0.4, 0.85)]
    for chart in (
        alt.Chart.from_dict(curves_spec(points, "loss")),  # validated against Vega-Lite's schema
        alt.Chart.from_dict(curves_spec(points, "accuracy")),
        confusion_chart(np.eye(10, dtype=int).tolist(), selectable=True),
        activation_chart(np.arange(64, dtype=np.float32), [63, 62]),
        per_class_chart([0.99] * 10),
    ):
        assert spec(chart)["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


def png_size(data: bytes):
    return Image.open(io.BytesIO(data)).size


@pytest.mark.parametrize("image", [np.zeros((28, 28), np.float32), np.full((28, 28), 255, np.uint8)])
def test_pictures_are_enlarged_pngs(image):
    assert png_size(enlarge(image)) == (112, 112)
    assert png_size(diverging(np.linspace(-1, 1, 784).reshape(28, 28))) == (84, 84)
    assert png_size(overlay(np.zeros((28, 28)), np.zeros((28, 28)))) == (112, 112)


def test_diverging_colours_positive_red_negative_blue():
    values = np.array([[1.0, -1.0, 0.0]])
    rgb = np.asarray(Image.open(io.BytesIO(diverging(values, factor=1))).convert("RGB"))[0]
    assert rgb[0][0] > rgb[0][2] and rgb[1][2] > rgb[1][0] and (rgb[2] == 255).all()


def test_session_state_keys_are_distinct():
    names = [value for name, value in vars(keys).items() if name.isupper()]
    assert len(names) == len(set(names)) > 10
