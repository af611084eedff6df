"""What the tests and the benchmarks both use to drive the app: a toolkit, not a test and not a benchmark.

- `chromium`: Debian's Chromium through Playwright, a Streamlit server to point it at, drawing on the canvas;
- `protocol`: a visitor that speaks Streamlit's websocket protocol (no browser), for load and for tests;
- `strokes`: canvas drawings and sample files such a visitor sends;
- `canvas`: strokes rendered as the page's canvas renders them;
- `postgres`: a throw-away PostgreSQL server in a temporary folder.
"""
