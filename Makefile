# The two things a person does with this project. See README.md.
PYTHON ?= python3

.PHONY: app test

# Install what the app needs and start it.
app:
	$(PYTHON) -m pip install -q -r requirements.txt
	$(PYTHON) -m streamlit run app.py

# Install what the tests need (Python packages, Debian's Chromium), lint, check
# the layer rules, and run every test (the slow ones included).
test:
	$(PYTHON) -m pip install -q -r requirements-dev.txt
	./scripts/install-chromium.sh
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -c "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
	$(PYTHON) -m pytest
