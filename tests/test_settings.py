"""The Streamlit settings a shared server relies on are the ones in force."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_streamlit_reads_the_projects_bounds():
    """Read by Streamlit itself, from the project's folder, as `streamlit run app.py` does."""
    code = (
        "from streamlit import config; config.get_config_options(force_reparse=True); "
        "print([config.get_option(k) for k in ('server.maxUploadSize', 'server.maxMessageSize', "
        "'client.showErrorDetails', 'server.enableXsrfProtection')])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[5, 4, 'none', True]"


def test_the_page_lowers_pillows_image_size_limit(monkeypatch, tmp_path):
    from PIL import Image
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SAMPLES_PATH", str(tmp_path))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored after the test
    AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert Image.MAX_IMAGE_PIXELS == (3 * 280) ** 2


def test_the_theme_and_the_pages_colours_agree():
    import tomllib

    from ui.theme import HIGHLIGHT

    theme = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"]
    assert theme["primaryColor"] == HIGHLIGHT


def test_the_readmes_tables_are_the_settings_module():
    """Every environment variable and limit, with its default and meaning, as `model.settings` has them."""
    from model.settings import markdown

    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- settings:")
    section = readme[readme.index("\n", start) + 1 : readme.index("<!-- /settings -->")]
    assert section.strip() == markdown().strip(), "run `python -m model.settings` and paste its tables in README.md"


def test_a_limit_is_raised_by_its_variable_and_a_bad_value_stops_the_start_with_a_sentence():
    env = {"PATH": "/usr/bin:/bin", "READMYDIGIT_MAX_SAMPLES": "5000"}
    code = "from model.store.samples import MAX_SAMPLES; print(MAX_SAMPLES)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "5000", out.stderr
    env["READMYDIGIT_MAX_SAMPLES"] = "lots"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "READMYDIGIT_MAX_SAMPLES must be a whole number above 0 (got 'lots')" in out.stderr
    env["READMYDIGIT_MAX_SAMPLES"] = "0"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert "must be a whole number above 0" in out.stderr


def test_no_module_reads_the_environment_but_the_settings_module():
    """Settings in one place: the app's own modules ask `model.settings`, not `os.environ`."""
    readers = []
    for path in [ROOT / "app.py", ROOT / "train.py", *(ROOT / "model").rglob("*.py"), *(ROOT / "ui").rglob("*.py")]:
        if path.name == "settings.py":
            continue
        text = path.read_text()
        if "os.environ.get(" in text or "os.getenv(" in text:
            readers.append(str(path.relative_to(ROOT)))
    # The three that do read what the app sets for its own processes (a local cluster's parent and priority)
    # and where Keras keeps its download (KERAS_HOME, Keras's own setting): no operator sets these.
    assert readers == ["model/jobs/lifeline.py", "model/jobs/tasks.py", "model/store/data.py"], readers
