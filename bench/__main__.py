"""Run the speed benchmarks and rewrite the performance table of BENCHMARKS.md.

    python -m bench            # prediction path, training, browser (a few minutes)
    python -m bench --skip-browser

Every row is measured in this one run, next to its reference, so that the
ratio holds even on a shared, noisy machine. Needs MNIST (`MNIST_PATH`) and,
for the browser rows, Debian's Chromium. Accuracy on drawings is a separate
benchmark: `python -m bench.accuracy`.
"""

from __future__ import annotations

import argparse
import sys

from bench.report import machine, replace_section, table


def ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Run the speed benchmarks; rewrite BENCHMARKS.md.")
    parser.add_argument("--skip-browser", action="store_true", help="leave out the Chromium rows")
    args = parser.parse_args(argv)

    from bench import prediction, throughput

    print("prediction path …", flush=True)
    p = prediction.run()
    print(p, flush=True)
    print("training …", flush=True)
    t = throughput.run()
    print(t, flush=True)
    rows = [
        [
            "1. prediction path, median (280×280 canvas → 10 probabilities)",
            ms(p["ours_median_ms"]),
            f"{ms(p['reference_median_ms'])} (canvas resized + `model.predict`)",
            f"**{p['speedup']:.0f}× faster**",
            "≤ 2 ms and ≥ 20×",
        ],
        [
            "1. prediction path, p99",
            ms(p["ours_p99_ms"]),
            ms(p["reference_p99_ms"]),
            f"{p['reference_p99_ms'] / p['ours_p99_ms']:.0f}× faster",
            "",
        ],
        [
            f"3. training, samples/s (784-128-64-10, batch {t['batch_size']}, no augmentation)",
            f"{t['ours_samples_per_second']:,.0f}/s ({t['ours_seconds_per_epoch']:.2f} s/epoch)",
            f"{t['reference_samples_per_second']:,.0f}/s (`model.fit` on float arrays)",
            f"{t['speedup']:.2f}×",
            "≥ 50,000/s",
        ],
        [
            f"3. default sidebar retrain ({t['epochs']} epochs + evaluation, full MNIST)",
            f"{t['retrain_seconds']:.1f} s ({t['retrain_test_accuracy']:.2%})",
            "–",
            "–",
            "≤ 20 s",
        ],
        [
            "3. the same with augmentation",
            f"{t['retrain_augmented_seconds']:.1f} s ({t['retrain_augmented_test_accuracy']:.2%})",
            f"{t['retrain_seconds']:.1f} s (without)",
            f"{t['augmented_ratio']:.2f}×",
            "≤ 2×",
        ],
    ]
    if not args.skip_browser:
        from bench import browser

        print("browser …", flush=True)
        b = browser.run()
        print(b, flush=True)
        rows += [
            [
                f"2. browser round trip, median of {b['strokes']} strokes, {b['bare_strokes']} on the bare page "
                f"(mouse up → page redrawn; {b['missed_strokes']} strokes dropped by the canvas, not timed)",
                ms(b["app_round_trip_median_ms"]),
                f"{ms(b['bare_round_trip_median_ms'])} (bare page)",
                f"{b['round_trip_ratio']:.2f}×",
                "≤ 1.3×",
            ],
            [
                "2. browser round trip, p90",
                ms(b["app_round_trip_p90_ms"]),
                ms(b["bare_round_trip_p90_ms"]),
                f"{b['app_round_trip_p90_ms'] / b['bare_round_trip_p90_ms']:.2f}×",
                "",
            ],
            [
                "2. of which the rerun itself (mouse up → script idle), median",
                ms(b["app_rerun_median_ms"]),
                ms(b["bare_rerun_median_ms"]),
                f"{b['app_rerun_median_ms'] / b['bare_rerun_median_ms']:.2f}×",
                "",
            ],
            [
                "2. the browser's own work per stroke and its clear (Chromium's counters: all tasks / script / "
                "layout / style), median",
                " / ".join(f"{v:.0f}" for v in b["app_browser_work_ms"].values()) + " ms",
                " / ".join(f"{v:.0f}" for v in b["bare_browser_work_ms"].values()) + " ms",
                f"{b['app_browser_work_ms']['all tasks'] / b['bare_browser_work_ms']['all tasks']:.2f}×",
                "",
            ],
            [
                "4. cold start: `streamlit run` → canvas ready",
                f"{b['app_canvas_ready_s']:.2f} s",
                f"{b['bare_canvas_ready_s']:.2f} s (bare page)",
                f"{b['canvas_ready_ratio']:.2f}×",
                "≤ 1.5×",
            ],
            ["4. cold start → first prediction", f"{b['app_first_prediction_s']:.2f} s", "–", "–", "≤ 6 s"],
            ["4. server memory after 10 predictions", f"{b['rss_after_10_predictions_mb']:.0f} MB", "–", "–", ""],
            [
                f"4. server memory after one default retrain ({b['retrain_in_browser_s']:.1f} s in the browser)",
                f"{b['rss_after_retrain_mb']:.0f} MB",
                "–",
                "–",
                "≤ 700 MB",
            ],
        ]
    markdown = "\n\n".join(
        [
            "## Speed: where a user waits",
            table(["measure", "ours", "reference, same run", "ratio", "target"], rows),
            f"Command: `python -m bench{' --skip-browser' if args.skip_browser else ''}` · {machine()}",
        ]
    )
    replace_section("speed", markdown)
    print("BENCHMARKS.md updated.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
