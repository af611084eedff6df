"""bench.capacity's report: a ratio only of costs measured above the idle CPU's noise, pairs by their median."""

from bench.capacity import measured, pairs_line, row


def level(visitors: int, answered: int, cpu_ms: float) -> dict:
    return {
        "visitors": visitors,
        "connected": visitors,
        "drawn": answered,
        "answered": answered,
        "read_right": answered,
        "unanswered": 0,
        "exceptions": 0,
        "tracebacks": 0,
        "p50": 10.0,
        "p95": 20.0,
        "p99": 30.0,
        "max": 40.0,
        "cpu_per_stroke_ms": cpu_ms,
        "cpu_share": 0.1,
        "memory_servers": 200.0,
        "memory_tree": 1500.0,
        "generator_share": 0.01,
        "seconds": 30.0,
    }


def test_a_cost_lost_in_the_idle_cpus_noise_is_not_divided_by():
    assert measured(level(1, 21, 2.1)) is None, "21 strokes of 2 ms: 44 ms above idle, four clock ticks"
    assert measured(level(60, 1200, 3.7)) == 3.7
    bare = {1: level(1, 21, 2.1), 60: level(60, 1200, 3.7)}
    assert row("page", level(1, 20, 9.8), 10.0, bare)[7] == "– (within the idle's noise)"
    assert row("page", level(60, 1190, 8.1), 10.0, bare)[7] == "8.1 (2.19× bare)"


def test_pairs_are_summed_up_by_their_median():
    pairs = [{"bare": level(60, 900, b), "page": level(60, 900, p)} for b, p in ((4.0, 8.6), (5.0, 10.25), (4.5, 8.4))]
    line = pairs_line(pairs)
    assert "2.15×, 2.05×, 1.87×; median 2.05×" in line and "bare page 4.0–5.0 ms" in line
