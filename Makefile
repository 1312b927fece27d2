# The two commands: `make serve` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
OPENDATA_INSTANCE ?= $(CURDIR)/instance
export OPENDATA_INSTANCE
CHROMIUM ?= /usr/bin/chromium

.PHONY: serve test install bench-serve clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

## serve: install, migrate, load the sample datasets, build the search index, serve with gunicorn on 127.0.0.1:$(PORT)
##        beside the background job worker
serve: install
	$(BIN)/opendata db upgrade
	$(BIN)/opendata samples load
	$(BIN)/opendata search reindex
	@# The job worker (personal-data scans of large files) runs beside the web server and stops with it.
	$(BIN)/opendata worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --workers 2 --bind 127.0.0.1:$(PORT) --access-logfile - wsgi:app

## test: install what the tests need and run the whole suite (browser tests need $(CHROMIUM))
test: install
	@if [ ! -x "$(CHROMIUM)" ]; then echo "note: $(CHROMIUM) not found, browser tests are deselected (.ci/run installs it)"; fi
	$(BIN)/python -m pytest $(if $(wildcard $(CHROMIUM)),,-m "not browser")

clean:
	rm -rf $(VENV) instance .pytest_cache
