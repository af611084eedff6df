"""The page's logic, through Streamlit's AppTest (no browser): empty state, validation, retrain, switching."""

import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from model.reading.network import NumpyNetwork
from model.store.card import ModelCard, Scores
from model.store.collection import new_token, visitor_store
from model.store.defaults import earlier_defaults, version
from model.store.network_file import copy_network_file
from model.store.sharing import share

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "model" / "mnist_ann.keras"


@pytest.fixture
def model_copy(tmp_path, monkeypatch):
    """The app's default model, copied so that "Save as default" cannot touch the shipped one."""
    path = tmp_path / "mnist_ann.keras"
    copy_network_file(SHIPPED, path)
    monkeypatch.setenv("MODEL_PATH", str(path))
    return path


@pytest.fixture
def database(tmp_path, monkeypatch):
    """This test's own database (the page's samples, limits and saved defaults)."""
    url = f"sqlite:///{tmp_path / 'samples.sqlite3'}"
    monkeypatch.setenv("SAMPLES_DATABASE_URL", url)
    return url


@pytest.fixture
def app(model_copy, tiny_mnist_path, monkeypatch, database):
    monkeypatch.setenv("MNIST_PATH", str(tiny_mnist_path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    return at.run()


class InstantService:
    """The training cluster as tests about the page need it: every job is done the moment it is asked for.

    A training gives a network of the asked-for shape with random weights
    and a card. What a real job does is tested in tests/test_jobs.py and,
    through the page, by `test_retrain_adds_a_network_and_uses_it` and the
    fine-tune test.
    """

    def submit(self, visitor, kind, spec, priority=0, asked=None, address="", collection=""):
        from model.jobs.service import Job, Kind
        from model.store.network import Network

        if kind is not Kind.TRAIN:
            raise AssertionError(f"InstantService does not do {kind} jobs")
        job = Job(visitor, kind, spec, state="done", fraction=1.0, status="Done")
        config = spec.config
        sizes = (784, *config.hidden, 10)
        rng = np.random.default_rng(0)
        weights = [a for n, m in zip(sizes, sizes[1:]) for a in (rng.normal(0, 0.05, (n, m)), np.zeros(m))]
        card = ModelCard(config.hidden, hyperparameters=config.as_dict(), test=Scores(0.1, count=500))
        job.result = Network(NumpyNetwork.from_arrays(weights), card)
        return job


@pytest.fixture
def instant_jobs(monkeypatch):
    monkeypatch.setattr("ui.training.job_service", InstantService)


def train_button(at):
    """The sidebar form's Train button (while a run goes on, its Stop button comes first)."""
    [button] = [b for b in at.sidebar.button if b.label == "Train"]
    return button


def texts(elements):
    return [e.value for e in elements]


def fill_form(at, layers="32", epochs=1, batch_size=64):
    at.sidebar.text_input[0].set_value(layers)
    inputs = {n.label: n for n in at.sidebar.number_input}
    inputs["Epochs"].set_value(epochs)
    inputs["Batch size"].set_value(batch_size)
    return at


def train_and_wait(at, timeout=120):
    train_button(at).click().run()
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(0.5)
        at.run()
        if len(at.sidebar.radio[0].options) > 1:
            return at
        assert not at.exception, at.exception
        errors = texts(at.sidebar.error)
        assert not errors, errors
    job = at.session_state["job"] if "job" in at.session_state else None
    state = job and (job.state, job.status, job.error)
    pytest.fail(f"the new network did not appear in the list in time (job: {state})")


def test_empty_canvas_invites_to_draw_and_predicts_nothing(app):
    assert not app.exception
    assert any("Draw a digit" in text for text in texts(app.main.info))
    assert "Prediction" not in [m.label for m in app.main.metric]
    assert not [html for html in app.main.get("html") if "probability-bars" in html.value], "no bars yet"


def test_default_network_is_listed_with_its_accuracy(app):
    radio = app.sidebar.radio[0]
    card = app.session_state["networks"]["Default"].card
    augmented = " · augmented" if card.augmented else ""
    assert radio.options == [f"Default: {card.layers} · {card.accuracy:.2%}{augmented}"]
    assert radio.value == "Default"


@pytest.mark.parametrize(
    "layers, message",
    [
        ("0, 5000", "Hidden layer 1 must have 1 to 1024 units (got 0)."),
        ("64, 2000", "Hidden layer 2 must have 1 to 1024 units (got 2000)."),
        ("8, 8, 8, 8, 8", "Use 1 to 4 hidden layers (got 5)."),
        ("lots", "Hidden layers must be whole numbers"),
        ("", "Give at least one hidden layer size"),
    ],
)
def test_invalid_layers_are_refused_before_training(app, layers, message):
    fill_form(app, layers=layers)
    train_button(app).click().run()
    assert any(message in text for text in texts(app.sidebar.error)), texts(app.sidebar.error)
    assert "job" not in app.session_state
    assert len(app.sidebar.radio[0].options) == 1


@pytest.mark.slow  # trains through the page
def test_retrain_adds_a_network_and_uses_it(app):
    fill_form(app, layers="32, 16", epochs=1)
    train_and_wait(app)
    radio = app.sidebar.radio[0]
    assert len(radio.options) == 2
    assert radio.value == "Trained #1", "the new network is active right away"
    new = app.session_state["networks"]["Trained #1"]
    assert new.net.hidden == (32, 16)
    assert new.card.test.count == 500  # the tiny test set, through MNIST_PATH
    label = [o for o in radio.options if o.startswith("Trained #1")][0]
    assert "784 → 32 → 16 → 10" in label and "%" in label
    assert any(m.label == "Test accuracy" for m in app.sidebar.metric)
    assert len(app.sidebar.get("vega_lite_chart")) >= 2, "the training curves are shown"

    # Switching back to the default network.
    app.sidebar.radio[0].set_value("Default").run()
    assert app.session_state["active"] == "Default"
    accuracy = [m.value for m in app.sidebar.metric if m.label == "Test accuracy"][0]
    assert accuracy == f"{app.session_state['networks']['Default'].accuracy:.2%}"


def test_only_the_owner_may_save_a_default(app, database, instant_jobs):
    fill_form(app, layers="24", epochs=1)
    train_and_wait(app)
    assert "Save as default" not in [b.label for b in app.sidebar.button], "a visitor is not offered it"
    assert not [e for e in app.sidebar.expander if e.label == "Owner"], "no password is set: nothing to unlock"
    assert version(database) == 0


def unlock(at, password):
    [form_input] = [t for t in at.sidebar.text_input if t.label == "Admin password"]
    form_input.set_value(password)
    [unlock_button] = [b for b in at.sidebar.button if b.label == "Unlock"]
    unlock_button.click().run()
    return at


def test_the_admin_password_unlocks_save_as_default(model_copy, tiny_mnist_path, monkeypatch, database, instant_jobs):
    monkeypatch.setenv("MNIST_PATH", str(tiny_mnist_path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.secrets["admin_password"] = "correct horse"
    at.run()
    shipped = NumpyNetwork.load(model_copy).hidden
    fill_form(at, layers="24", epochs=1)
    train_and_wait(at)
    unlock(at, "wrong")
    assert any("not the admin password" in t for t in texts(at.sidebar.error))
    assert "Save as default" not in [b.label for b in at.sidebar.button]
    unlock(at, "correct horse")
    [save] = [b for b in at.sidebar.button if b.label == "Save as default"]
    save.click().run()  # one transaction in the server: no job, no wait
    assert any("Saved Trained #1" in text for text in texts(at.sidebar.success)), texts(at.sidebar.error)
    assert version(database) != 0, "saved in the database, where every replica reads it"
    [kept] = earlier_defaults(database)
    assert kept.accuracy == pytest.approx(0.9941, abs=0.001), "the previous (shipped) default is kept"
    # A new visitor now gets the saved network.
    visitor = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert visitor.session_state["networks"]["Default"].net.hidden == (24,)
    # And the owner can roll back.
    at.run()
    [roll_back] = [b for b in at.sidebar.button if b.label == "Roll back"]
    roll_back.click().run()
    visitor = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert visitor.session_state["networks"]["Default"].net.hidden == shipped


def test_password_tries_are_limited(app, monkeypatch):
    app.secrets["admin_password"] = "s3cret"
    app.run()
    for _ in range(5):
        unlock(app, "guess")
    unlock(app, "s3cret")
    assert "Save as default" not in [b.label for b in app.sidebar.button]
    assert any("Too many tries" in t for t in texts(app.sidebar.error))


def test_visitors_do_not_disturb_each_other(app, monkeypatch, instant_jobs):
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    fill_form(app, layers="16", epochs=1)
    train_and_wait(app)
    other.run()
    assert list(other.session_state["networks"]) == ["Default"]
    assert other.session_state["active"] == "Default"


def test_missing_mnist_is_explained_and_drawing_still_works(model_copy, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "nowhere.npz"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    [warning] = texts(at.sidebar.warning)
    assert "MNIST_PATH" in warning and "does not exist" in warning
    assert train_button(at).disabled, "Train is disabled"
    assert any("Draw a digit" in text for text in texts(at.main.info))
    assert at.session_state["networks"]["Default"]


def test_a_broken_default_model_is_explained_without_server_paths(tmp_path, monkeypatch):
    broken = tmp_path / "mnist_ann.keras"
    broken.write_bytes(b"not a model")
    monkeypatch.setenv("MODEL_PATH", str(broken))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    [error] = texts(at.main.error)
    assert "No network to read with" in error and "could not be read" in error
    assert str(tmp_path) not in error and str(ROOT) not in error


def open_panel(at, name):
    at.segmented_control(key="explore").set_value(name).run()
    assert not at.exception, at.exception
    return at


def test_panels_stay_closed_until_asked(app):
    assert app.segmented_control(key="explore").value is None
    assert not any("mistakes" in m.value for m in app.main.markdown)


def test_inside_the_network_asks_for_a_drawing_first(app):
    open_panel(app, "Inside the network")
    assert any("Draw a digit to see" in text for text in texts(app.main.info))


def test_where_it_fails_shows_mistakes_and_filters_them(app):
    open_panel(app, "Where it fails")
    [summary] = [m.value for m in app.main.markdown if "mistakes" in m.value]
    assert "of the 500 MNIST test digits" in summary  # the tiny test set, through MNIST_PATH
    everything = gallery(app)
    assert everything, "a gallery of misclassified digits"
    true = int(everything[-1][0])
    app.main.selectbox[0].set_value(true).run()  # "True digit"
    captions = gallery(app)
    assert captions and all(c.startswith(f"{true} → ") for c in captions)
    assert not all(c.startswith(f"{true} → ") for c in everything), "the filter did filter"


def gallery(at):
    return [c for image in at.main.get("image") for c in image.captions if "→" in c]


@pytest.mark.slow  # trains through the page
def test_teach_panel_counts_samples_and_offers_fine_tuning(app, tmp_path, database):
    token = new_token()
    app.query_params["samples"] = token
    open_panel(app, "Teach it your handwriting")
    [button] = [b for b in app.main.button if b.label.startswith("Fine-tune")]
    assert button.disabled, "nothing to fine-tune on yet"
    store = visitor_store(token, database)
    for i in range(12):
        image = np.zeros((28, 28), np.uint8)
        image[4:24, 12:16] = 255
        image[0, i] = 1  # twelve different samples
        store.add(image, 1)
    app.run()
    assert any("12 in all" in m.value for m in app.main.markdown)
    assert not any(str(tmp_path) in m.value for m in app.main.markdown), "no server path is shown"
    [button] = [b for b in app.main.button if b.label.startswith("Fine-tune")]
    assert not button.disabled
    button.click().run()
    deadline = time.time() + 120
    while "Fine-tuned #1" not in app.session_state["networks"] and time.time() < deadline:
        time.sleep(0.5)
        app.run()
        assert not texts(app.sidebar.error), texts(app.sidebar.error)
    tuned = app.session_state["networks"]["Fine-tuned #1"]
    assert app.session_state["active"] == "Fine-tuned #1"
    assert tuned.card.fine_tune["trained_on"] + tuned.card.fine_tune["held_out"] == 12
    assert len(app.main.table) == 1, "the before/after table is shown"


def sample_image(i):
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 10:18] = 200
    image[0, i] = 255
    return image


def test_each_visitor_sees_only_their_own_samples(app, database):
    """A and B side by side: B cannot see, export or delete what A saved."""
    token_a = new_token()
    a = app
    a.query_params["samples"] = token_a
    store_a = visitor_store(token_a, database)
    ids = [store_a.add(sample_image(i), i).id for i in range(3)]
    open_panel(a, "Teach it your handwriting")
    assert any("3 in all" in m.value for m in a.main.markdown)
    assert len([b for b in a.main.button if b.label == "Delete"]) == 3
    [export_a] = [d for d in a.main.get("download_button")]
    assert not export_a.proto.disabled

    b = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    open_panel(b, "Teach it your handwriting")
    assert any("0 in all" in m.value for m in b.main.markdown)
    assert not [btn for btn in b.main.button if btn.label == "Delete"], "nothing of A's to delete"
    [export_b] = [d for d in b.main.get("download_button")]
    assert export_b.proto.disabled, "nothing to export"
    b.query_params["samples"] = "../../" + token_a  # a crafted link reaches no collection
    b.run()
    assert any("not one this app made" in w.value for w in b.main.warning)
    assert [e["id"] for e in store_a.entries()] == ids, "A's samples are untouched"
    b.query_params["samples"] = new_token()  # someone else's guess: an empty collection of their own
    b.run()
    assert any("0 in all" in m.value for m in b.main.markdown)


def test_the_server_never_downloads_mnist(model_copy, monkeypatch, tmp_path):
    import keras

    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras-cache"))
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: pytest.fail("the server tried to download MNIST"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert any("set MNIST_PATH" in w for w in texts(at.sidebar.warning))
    assert train_button(at).disabled, "Train waits for MNIST"
    open_panel(at, "Where it fails")  # needs the test set: says so, downloads nothing
    assert not at.exception


def test_a_session_keeps_a_bounded_number_of_networks():
    def many():
        import streamlit as st

        from ui.session import add_network, session_networks

        default = session_networks()["Default"]
        for _ in range(10):
            add_network(default)
        st.markdown(" | ".join(session_networks()))
        st.markdown(" | ".join(st.session_state.get("dropped_networks", [])))

    at = AppTest.from_function(many, default_timeout=60).run()
    kept, dropped = at.markdown[0].value, at.markdown[1].value
    assert kept.split(" | ") == ["Default"] + [f"Trained #{n}" for n in range(4, 11)]
    assert dropped.split(" | ") == ["Trained #3"], "the last addition dropped the oldest, and says which"


def test_the_sidebar_shows_the_place_in_the_queue_and_refuses_a_second_run(app, monkeypatch):
    from model.config import TrainConfig
    from model.jobs.service import Kind, TrainSpec
    from ui.session import job_service

    blocker = job_service().submit(
        "someone else", Kind.TRAIN, TrainSpec(TrainConfig(hidden=(8,), epochs=50, batch_size=8), "")
    )
    try:
        fill_form(app, layers="8", epochs=1)
        train_button(app).click().run()
        job = app.session_state["job"]
        assert job.ahead == 1 and "1 run ahead of yours" in job.status
        assert any("1 run ahead of yours" in p.proto.text for p in app.sidebar.get("progress"))
        app.run()
        assert train_button(app).disabled, "one run per visitor: Train waits for this one"
        job.stop()
    finally:
        blocker.stop()


def test_an_unreachable_cluster_is_a_sentence_and_drawing_goes_on(app, monkeypatch):
    from model.jobs.cluster import ClusterUnavailable

    def unreachable():
        raise ClusterUnavailable(
            "Training is unavailable: the training cluster at tcp://x:8786 could not be "
            "reached or started (OSError). Drawing works as before."
        )

    from ui.session import job_service

    monkeypatch.setattr(job_service(), "client_factory", unreachable)
    fill_form(app, layers="8", epochs=1)
    train_button(app).click().run()
    assert not app.exception
    assert any("Training is unavailable" in e for e in texts(app.sidebar.error))
    assert any("Draw a digit" in text for text in texts(app.main.info))


def test_the_page_limits_blas_to_one_thread(app):
    """NumPy's BLAS threads spin after each product; the page's are too small to share (model.reading.threads)."""
    from threadpoolctl import threadpool_info

    blas = [library for library in threadpool_info() if library["user_api"] == "blas"]
    assert blas and all(library["num_threads"] == 1 for library in blas), blas


def test_a_page_that_lost_its_session_says_which_networks_are_gone(app, instant_jobs):
    """The URL counts the networks this page trained; a new session of it (another replica, a restart) says so."""
    fill_form(app, layers="16", epochs=1)
    train_and_wait(app)
    assert app.query_params["trained"] == ["1"] or app.query_params["trained"] == "1"
    reconnected = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    reconnected.query_params["trained"] = "1"
    reconnected.run()
    assert any("you trained before this page reconnected" in w for w in texts(reconnected.sidebar.warning))
    assert "trained" not in reconnected.query_params, "said once"
    assert list(reconnected.session_state["networks"]) == ["Default"]


def test_a_database_that_cannot_be_reached_is_a_sentence_and_drawing_goes_on(
    model_copy, tiny_mnist_path, monkeypatch, tmp_path
):
    monkeypatch.setenv("MNIST_PATH", str(tiny_mnist_path))
    monkeypatch.setenv("SAMPLES_DATABASE_URL", f"postgresql+psycopg://app@/nothing?host={tmp_path}&port=9")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["samples"] = new_token()  # a visitor with a collection, which lives in the database
    at.run()
    assert not at.exception
    assert at.session_state["networks"]["Default"].net.hidden == NumpyNetwork.load(model_copy).hidden
    open_panel(at, "Teach it your handwriting")
    assert not at.exception
    said = [w.value for w in at.main.warning]
    assert any("cannot be read now" in w and "cannot be reached" in w for w in said), said


def test_a_visitor_shares_and_withdraws_and_the_owner_sees_what_is_shared(app, database):
    from model.store.sharing import shared_pool

    token = new_token()
    store = visitor_store(token, database)
    for i in range(4):
        store.add(sample_image(i), i)
    app.query_params["samples"] = token
    open_panel(app, "Teach it your handwriting")
    [toggle] = [t for t in app.main.toggle if t.label == "Share my samples with the owner"]
    assert toggle.value is False, "off until the visitor turns it on"
    assert any("CC0" in c.value for c in app.main.caption)
    toggle.set_value(True).run()
    assert len(shared_pool(database)) == 4
    assert any("your new samples are shared too" in i.value for i in app.main.info)
    store.add(sample_image(9), 9)
    assert len(shared_pool(database)) == 5

    owner = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    owner.secrets["admin_password"] = "teacher"
    owner.run()
    assert "Class handwriting" not in owner.segmented_control(key="explore").options, "for the owner only"
    unlock(owner, "teacher")
    open_panel(owner, "Class handwriting")
    assert any("5 samples by 1 contributors" in m.value for m in owner.main.markdown)
    shown = [m.value for m in owner.main.markdown] + [c.value for c in owner.main.caption]
    assert token not in str(shown) and store.key not in str(shown), "contributors are numbers, never links"
    [retrain] = [b for b in owner.main.button if b.label == "Retrain the default with shared handwriting"]
    assert any("It will train on" in c.value for c in owner.main.caption)

    [toggle] = [t for t in app.main.toggle if t.label == "Share my samples with the owner"]
    toggle.set_value(False).run()
    assert len(shared_pool(database)) == 0, "withdrawn: left out of every later retrain"
    owner.run()
    assert any("Nobody shares their handwriting yet" in i.value for i in owner.main.info)


def test_a_crafted_review_from_a_visitor_who_is_not_the_owner_changes_nothing(app, database):
    from model.store.sharing import shared_pool

    store = visitor_store(new_token(), database)
    sample = store.add(sample_image(1), 1).id
    share(store)

    def forged(sample_id):
        import streamlit as st

        from ui.shared import decide

        decide(sample_id, "removed")
        st.write("asked")

    AppTest.from_function(forged, args=(sample,), default_timeout=60).run()
    assert shared_pool(database).reviews == [None], "the owner's review is refused to anyone else"


def test_one_address_makes_a_bounded_number_of_new_collections(app, monkeypatch, database):
    """Every page load without ?samples= made a new collection at its first save: three loads, three full
    collections. New collections now count per address."""
    from model.store.ratelimit import RateLimit

    monkeypatch.setattr("ui.access.NEW_COLLECTIONS", RateLimit(1, 3600))
    first = app
    open_panel(first, "Teach it your handwriting")
    [toggle] = [t for t in first.main.toggle if t.label == "Share my samples with the owner"]
    toggle.set_value(True).run()  # makes this page's collection
    assert "samples" in first.query_params
    second = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    open_panel(second, "Teach it your handwriting")
    [toggle] = [t for t in second.main.toggle if t.label == "Share my samples with the owner"]
    toggle.set_value(True).run()
    assert "samples" not in second.query_params, "no second collection from the same address"
    assert any("Too many new collections" in t.proto.body for t in second.get("toast"))
