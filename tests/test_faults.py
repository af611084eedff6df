"""kill -9 while saving: the next start finds every confirmed sample, a default that loads, and no debris."""

import pytest

from bench.faults import run

pytestmark = pytest.mark.slow  # it kills and restarts processes


def test_kills_during_saves_imports_and_default_saves_lose_nothing():
    figures = run(kills=6, seed=1)
    assert [r["problems"] for r in figures["rounds"]] == [[]] * 6
    assert sum(r["confirmed"] for r in figures["rounds"]) > 0, "the kills came after real work"
