# The two commands: `make serve` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
OPENDATA_INSTANCE ?= $(CURDIR)/instance
export OPENDATA_INSTANCE
CHROMIUM ?= /usr/bin/chromium

.PHONY: serve test install bench-serve bench-datastore clean

# Swagger UI for /api/docs, from the npm registry at build time (the portal then needs no internet).
SWAGGER_UI_VERSION := 5.35.0
SWAGGER_UI := opendata/static/vendor/swagger-ui
SWAGGER_UI_STAMP := $(SWAGGER_UI)/.swagger-ui-dist-$(SWAGGER_UI_VERSION)

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(SWAGGER_UI_STAMP):
	@command -v npm >/dev/null || { echo "npm is needed once, to fetch swagger-ui-dist (apt-get install npm)"; exit 1; }
	tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) >/dev/null \
	  && tar -xzf swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz) \
	  && cp $$tmp/package/swagger-ui-bundle.js $$tmp/package/swagger-ui.css $$tmp/package/LICENSE $$tmp/package/NOTICE $(SWAGGER_UI)/ \
	  && rm -rf $$tmp && rm -f $(SWAGGER_UI)/.swagger-ui-dist-* && touch $@

# Leaflet (map previews) and Chart.js (chart previews), from the npm registry at build time too.
LEAFLET_VERSION := 1.9.4
LEAFLET := opendata/static/vendor/leaflet
LEAFLET_STAMP := $(LEAFLET)/.leaflet-$(LEAFLET_VERSION)
CHARTJS_VERSION := 4.6.1
CHARTJS := opendata/static/vendor/chartjs
CHARTJS_STAMP := $(CHARTJS)/.chartjs-$(CHARTJS_VERSION)

$(LEAFLET_STAMP):
	@command -v npm >/dev/null || { echo "npm is needed once, to fetch leaflet (apt-get install npm)"; exit 1; }
	tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent leaflet@$(LEAFLET_VERSION) >/dev/null \
	  && tar -xzf leaflet-$(LEAFLET_VERSION).tgz) \
	  && mkdir -p $(LEAFLET)/images \
	  && cp $$tmp/package/dist/leaflet.js $$tmp/package/dist/leaflet.css $$tmp/package/LICENSE $(LEAFLET)/ \
	  && cp $$tmp/package/dist/images/*.png $(LEAFLET)/images/ \
	  && rm -rf $$tmp && rm -f $(LEAFLET)/.leaflet-* && touch $@

$(CHARTJS_STAMP):
	@command -v npm >/dev/null || { echo "npm is needed once, to fetch chart.js (apt-get install npm)"; exit 1; }
	tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent chart.js@$(CHARTJS_VERSION) >/dev/null \
	  && tar -xzf chart.js-$(CHARTJS_VERSION).tgz) \
	  && mkdir -p $(CHARTJS) \
	  && cp $$tmp/package/dist/chart.umd.js $$tmp/package/LICENSE.md $(CHARTJS)/ \
	  && rm -rf $$tmp && rm -f $(CHARTJS)/.chartjs-* && touch $@

install: $(VENV)/.installed $(SWAGGER_UI_STAMP) $(LEAFLET_STAMP) $(CHARTJS_STAMP)

## serve: install, migrate, load the sample datasets, build the search index, serve with gunicorn on 127.0.0.1:$(PORT)
##        beside the background job worker
serve: install
	$(BIN)/opendata db upgrade
	$(BIN)/opendata samples load
	$(BIN)/opendata privacy rescan
	$(BIN)/opendata datastore reload
	$(BIN)/opendata search reindex
	@# The job worker (personal-data scans of large files, loading tables into the datastore) runs
	@# beside the web server and stops with it.
	@# gthread: a long download does not get its worker killed at the timeout, as a sync worker's would;
	@# one thread each, since a Whoosh searcher is not meant to be shared between threads.
	$(BIN)/opendata worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --workers 2 --worker-class gthread --threads 1 --bind 127.0.0.1:$(PORT) --access-logfile - wsgi:app

## test: install what the tests need and run the whole suite (browser tests need $(CHROMIUM))
test: install
	@if [ ! -x "$(CHROMIUM)" ]; then echo "note: $(CHROMIUM) not found, browser tests are deselected (.ci/run installs it)"; fi
	$(BIN)/python -m pytest $(if $(wildcard $(CHROMIUM)),,-m "not browser")

## bench-datastore: ingestion and row queries of a $(ROWS)-row CSV, beside datasette (bench/README.md);
##                   PostgreSQL too when OPENDATA_BENCH_DATABASE_URL is set
ROWS ?= 1000000
bench-datastore: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench.datastore --rows $(ROWS)

clean:
	rm -rf $(VENV) instance .pytest_cache
