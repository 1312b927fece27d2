"""A real server on loopback and a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import migrated_database

CHROMIUM = os.environ.get("OPENDATA_CHROMIUM", "/usr/bin/chromium")
# Without these, Chromium keeps trying to reach Google's services on a closed network.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """Browser journeys run once, on SQLite: the backends are compared by the other tests."""
    return migrated_database("sqlite", tmp_path_factory)


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="vi-VN", accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()
