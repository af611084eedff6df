"""The probability bars: ten of them, on a fixed 0-100% scale, the predicted one in colour."""

import re

import numpy as np
import pytest

from ui.bars import HIGHLIGHT, MUTED, probability_bars


def bars(html):
    return re.findall(r'class="bar" style="height:([\d.]+)%;background:(#[0-9a-f]+)"', html)


def test_ten_bars_with_heights_on_a_fixed_scale_and_the_prediction_highlighted():
    probabilities = np.array([0.0, 0.05, 0.0, 0.0, 0.9, 0.0, 0.0, 0.05, 0.0, 0.0], np.float32)
    found = bars(probability_bars(probabilities, 4))
    assert [float(h) for h, _ in found] == pytest.approx([0, 5, 0, 0, 90, 0, 0, 5, 0, 0])
    assert [colour for _, colour in found] == [MUTED] * 4 + [HIGHLIGHT] + [MUTED] * 5


def test_every_digit_is_on_the_axis_even_at_zero():
    html = probability_bars(np.eye(10)[3], 3)
    assert re.findall(r'<div class="digits">(.*?)</div>', html)[0].count("<span") == 10
    assert 'aria-label="Probabilities 0: 0%, 1: 0%, 2: 0%, 3: 100%' in html


def test_out_of_range_values_are_clipped_and_a_wrong_count_refused():
    assert [float(h) for h, _ in bars(probability_bars([1.2] + [-0.1] * 9, 0))] == [100.0] + [0.0] * 9
    with pytest.raises(ValueError, match="10 probabilities"):
        probability_bars([0.5, 0.5], 0)
