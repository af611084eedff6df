"""Retake the README's screenshots: the page on a 1366×768 laptop screen and on a phone (412×915), a digit drawn.

    python -m bench.screenshot

Starts the app on a free port as a public server has it (a browser on this
machine is a visitor, not the owner; a database of its own), draws with
Chromium as the browser tests do (the mouse on the laptop, a finger on the
phone), and saves the visible page, no scrolling: what a visitor sees
first. Writes docs/screenshot.png and docs/phone.png.
"""

import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from testkit.canvas import SAMPLE_DRAWINGS
from testkit.chromium import (
    canvas_box,
    draw,
    draw_by_touch,
    launch_chromium,
    phone_context,
    prediction,
    streamlit_server,
    wait_idle,
)

DOCS = Path(__file__).parent.parent / "docs"


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="screenshot-"))
    (home / "secrets.toml").write_text("owner_on_this_machine = false\n")
    env = {"SAMPLES_DATABASE_URL": f"sqlite:///{home / 'samples.sqlite3'}"}
    args = ["--secrets.files", str(home / "secrets.toml")]
    with streamlit_server(env=env, args=args) as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(url)
        draw(page, SAMPLE_DRAWINGS[4], canvas_box(page))
        prediction(page).wait_for(timeout=30_000)
        page.mouse.move(1300, 740)  # off the canvas, so its toolbar hides again
        wait_idle(page)
        page.screenshot(path=DOCS / "screenshot.png")
        phone = phone_context(browser).new_page()
        phone.goto(url)
        draw_by_touch(phone, SAMPLE_DRAWINGS[7], canvas_box(phone))
        prediction(phone).wait_for(timeout=30_000)
        wait_idle(phone)
        phone.screenshot(path=DOCS / "phone.png")
        browser.close()
    print(f"wrote {DOCS / 'screenshot.png'} and {DOCS / 'phone.png'}")


if __name__ == "__main__":
    main()
