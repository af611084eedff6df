"""What a run may ask for is checked before anything costs: a sentence per problem, and few of them."""

import time

import pytest

from model.config import APP_LIMITS, MAX_LAYER_TEXT, TrainConfig, parse_layer_sizes


def test_a_huge_layer_list_is_one_sentence_before_it_is_parsed():
    """The griefer's 10,000 layers gave 10,002 error boxes and a 1.45 MB reply; a 4 MB text, minutes of CPU."""
    started = time.perf_counter()
    with pytest.raises(ValueError, match=f"at most {MAX_LAYER_TEXT} characters"):
        parse_layer_sizes("7, " * 2_000_000)
    assert time.perf_counter() - started < 0.1


def test_too_many_layers_is_one_problem_not_one_per_layer():
    problems = TrainConfig(hidden=(0,) * 20).problems(APP_LIMITS)
    assert problems == ["Use 1 to 4 hidden layers (got 20)."]


def test_each_bad_layer_of_a_short_list_is_named():
    assert TrainConfig(hidden=(0, 64, 5000)).problems(APP_LIMITS) == [
        "Hidden layer 1 must have 1 to 1024 units (got 0).",
        "Hidden layer 3 must have 1 to 1024 units (got 5000).",
    ]


@pytest.mark.parametrize("text", ["", "lots", "1.5, 2", None])
def test_what_is_not_a_list_of_whole_numbers_is_a_sentence(text):
    with pytest.raises(ValueError):
        parse_layer_sizes(text)
