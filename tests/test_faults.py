"""kill -9 while saving, on SQLite and on PostgreSQL: every confirmed sample is there, and the default loads."""

import pytest

from bench.faults import run

pytestmark = pytest.mark.slow  # it kills and restarts processes


def test_kills_during_saves_imports_and_default_saves_lose_nothing(database_url):
    figures = run(kills=6, url=database_url, seed=1)
    assert [r["problems"] for r in figures["rounds"]] == [[]] * 6
    assert sum(r["confirmed"] for r in figures["rounds"]) > 0, "the kills came after real work"
