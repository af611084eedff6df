# The two things a person does with this project, and serving it to many. See README.md.
PYTHON ?= python3
REPLICAS ?= 2
PORT ?= 8501

.PHONY: app test serve

# Install what the app needs and start it.
app:
	$(PYTHON) -m pip install -q -r requirements.txt
	$(PYTHON) -m streamlit run app.py

# Install what the tests need (Python packages; Debian's Chromium, HAProxy, PostgreSQL and OpenSSL), lint,
# check the layer rules, and run every test (the slow ones included).
test:
	$(PYTHON) -m pip install -q -r requirements-dev.txt
	./scripts/install-debian-packages.sh chromium haproxy postgresql openssl
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -c "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
	$(PYTHON) -m pytest

# Serve a big audience: REPLICAS Streamlit processes behind HAProxy on PORT (scripts/serve.py).
serve:
	$(PYTHON) -m pip install -q -r requirements.txt
	./scripts/install-debian-packages.sh haproxy
	$(PYTHON) scripts/serve.py --replicas $(REPLICAS) --port $(PORT)
