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
