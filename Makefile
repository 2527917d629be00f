# pvmon: the two commands of the README, plus helpers.
#   make demo   the main job: embedded PostgreSQL, migrations, demo fleet, API
#   make test   lint, type-check and the whole test suite against a real PostgreSQL
# Both create .venv and install pvmon into it on first use (again when pyproject.toml
# changes). When the machine has no PostgreSQL server binaries, the pgserver wheel
# (PostgreSQL built as a Python package) is installed instead; as root, Debian's mbpoll,
# poppler-utils and chromium are installed for the third-party client, PDF and browser tests.

PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: demo test install bench clean-data

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then \
		echo "no PostgreSQL server binaries on this machine: installing the pgserver wheel"; \
		$(VENV)/bin/pip install --quiet pgserver; \
	fi
	@if { ! command -v mbpoll || ! command -v pdftotext || ! command -v chromium; } >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's mbpoll, poppler-utils and chromium (a third-party Modbus client, the PDF reader and the browser the tests use)"; \
		apt-get install -y -qq mbpoll poppler-utils chromium >/dev/null 2>&1 || \
		{ apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq mbpoll poppler-utils chromium >/dev/null 2>&1; } || \
		echo "mbpoll, poppler-utils or chromium could not be installed; their tests will be skipped"; \
	fi
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pvmon demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy pvmon collectors dividends dashboards simulators
	$(VENV)/bin/pytest -q -n auto --dist worksteal

bench: $(STAMP)
	$(VENV)/bin/python bench/ingest.py

clean-data:
	-$(VENV)/bin/pvmon db stop
	rm -rf .pvmon
