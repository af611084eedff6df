"""End to end in a real browser: `streamlit run app.py`, Chromium, a mouse drawing digits."""

import pytest
from playwright.sync_api import expect, sync_playwright

from model.store.network_file import copy_network_file
from testkit.chromium import (
    DRAWINGS,
    ROOT,
    canvas_box,
    clear_canvas,
    draw,
    invitation,
    launch_chromium,
    prediction,
    streamlit_server,
    wait_idle,
)

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "artifacts" / "browser"


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """The server's database (its samples), a file of this module's own."""
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'samples.sqlite3'}"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, tiny_mnist_path, database):
    home = tmp_path_factory.mktemp("app")
    model = home / "mnist_ann.keras"
    copy_network_file(ROOT / "model" / "mnist_ann.keras", model)
    env = {"MODEL_PATH": str(model), "MNIST_PATH": str(tiny_mnist_path), "SAMPLES_DATABASE_URL": database}
    with streamlit_server(env=env, log=home / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_url):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(app_url)
    canvas_box(page)
    yield page
    page.close()


def test_drawn_digits_are_read_and_charted(page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    expect(invitation(page)).to_be_visible()
    for digit in (1, 0, 7):
        clear_canvas(page)
        expect(invitation(page)).to_be_visible(timeout=10_000)
        draw(page, DRAWINGS[digit])
        expect(prediction(page)).to_have_text(str(digit), timeout=15_000)
        chart = page.get_by_test_id("stMain").locator(".probability-bars")
        expect(chart).to_be_visible(timeout=10_000)
        expect(chart.locator(".bar")).to_have_count(10)
        expect(chart.locator(".digits .best")).to_have_text(str(digit))
        expect(page.get_by_text("What the model sees")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "page.png")


def test_clearing_returns_to_the_invitation(page):
    draw(page, DRAWINGS[4])
    expect(prediction(page)).to_be_visible(timeout=15_000)
    clear_canvas(page)
    expect(invitation(page)).to_be_visible(timeout=10_000)
    expect(prediction(page)).to_have_count(0)
    expect(page.get_by_test_id("stMain").locator(".probability-bars")).to_have_count(0)


def test_a_tiny_retrain_from_the_sidebar(page):
    sidebar = page.get_by_test_id("stSidebar")
    layers = sidebar.get_by_label("Hidden layers", exact=True)
    layers.fill("16")
    layers.press("Tab")  # Enter would submit the form at once
    epochs = sidebar.get_by_label("Epochs", exact=True)
    epochs.fill("1")
    epochs.press("Tab")  # Enter would submit the form at once
    sidebar.get_by_role("button", name="Train", exact=True).click()
    new_network = sidebar.get_by_text("Trained #1: 784 → 16 → 10")
    expect(new_network).to_be_visible(timeout=120_000)
    accuracy = sidebar.get_by_test_id("stMetric").filter(has_text="Test accuracy").get_by_test_id("stMetricValue")
    expect(accuracy).to_have_text(__import__("re").compile(r"^\d+\.\d\d%$"))
    # The new network reads the next drawing.
    draw(page, DRAWINGS[1])
    expect(prediction(page)).to_be_visible(timeout=15_000)
    page.screenshot(path=ARTIFACTS / "after-retrain.png", full_page=True)


def test_correcting_a_reading_saves_a_sample(page, database):
    from model.store.collection import local_store

    store = local_store(database)
    before = len(store.entries())
    for drawn, corrected in [(7, 2), (1, 1)]:
        clear_canvas(page)
        draw(page, DRAWINGS[drawn])
        expect(prediction(page)).to_have_text(str(drawn), timeout=15_000)
        wait_idle(page)
        page.get_by_test_id("stMain").get_by_role("radio", name=str(corrected), exact=True).click()
        before += 1
        said = f"Saved as a {corrected}. You have {before} sample{'' if before == 1 else 's'}."
        expect(page.get_by_text(said)).to_be_visible(timeout=10_000)
        assert store.counts()[corrected] >= 1 and len(store.entries()) == before


def test_looking_inside_the_network(page):
    draw(page, DRAWINGS[0])
    expect(prediction(page)).to_have_text("0", timeout=15_000)
    wait_idle(page)
    page.get_by_role("radio", name="Inside the network").click()
    expect(page.get_by_text("What a unit looks for")).to_be_visible(timeout=15_000)
    expect(page.get_by_text("for 0 (")).to_be_visible()  # the saliency map's caption
    page.screenshot(path=ARTIFACTS / "inside.png", full_page=True)


@pytest.fixture(scope="module")
def shared_url(tmp_path_factory, tiny_mnist_path):
    """The app as on a public server: browsers here are visitors, not the owner."""
    home = tmp_path_factory.mktemp("shared")
    model = home / "mnist_ann.keras"
    copy_network_file(ROOT / "model" / "mnist_ann.keras", model)
    (home / "secrets.toml").write_text("owner_on_this_machine = false\n")
    env = {
        "MODEL_PATH": str(model),
        "MNIST_PATH": str(tiny_mnist_path),
        "SAMPLES_DATABASE_URL": f"sqlite:///{home / 'samples.sqlite3'}",
    }
    with streamlit_server(
        env=env, log=home / "streamlit.log", args=["--secrets.files", str(home / "secrets.toml")]
    ) as url:
        yield url


def test_two_visitors_keep_their_samples_apart(browser, shared_url):
    a = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    a.goto(shared_url)
    canvas_box(a)
    draw(a, DRAWINGS[7])
    expect(prediction(a)).to_have_text("7", timeout=15_000)
    wait_idle(a)
    a.get_by_test_id("stMain").get_by_role("radio", name="1", exact=True).click()
    expect(a.get_by_text("Saved as a 1. You have 1 sample.")).to_be_visible(timeout=10_000)
    assert "samples=" in a.url, "the first save gives the page its private address"
    assert "Save as default" not in a.get_by_test_id("stSidebar").inner_text()

    b = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    b.goto(shared_url)
    canvas_box(b)
    b.get_by_role("radio", name="Teach it your handwriting").click()
    expect(b.get_by_text("0 in all")).to_be_visible(timeout=15_000)

    a_again = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    a_again.goto(a.url)  # the bookmark, in another browser
    canvas_box(a_again)
    a_again.get_by_role("radio", name="Teach it your handwriting").click()
    expect(a_again.get_by_text("1 in all")).to_be_visible(timeout=15_000)
    for page in (a, b, a_again):
        page.context.close()
