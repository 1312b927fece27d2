"""Rate limits of /api/: per address or per token, shared by every worker, answered in each API's error shape."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import g
from flask_migrate import upgrade
from limits.errors import ConfigurationError
from limits.storage import storage_from_string

from opendata import create_app
from opendata.accounts.services import create_token, system_actor
from opendata.api.limits import SqliteStorage, default_storage_uri
from opendata.catalog.services import sync_vocabularies
from opendata.extensions import db
from tests.conftest import RequestScopedClient, make_test_app
from tests.factories import make_agency, make_user

REPO = Path(__file__).resolve().parents[2]
PROBES = {"rest": "/api/v1/_limits_probe", "ckan": "/api/3/action/_limits_probe",
          "ckan_short": "/api/action/_limits_probe"}


class ApiClient(RequestScopedClient):
    """Each request identifies its API caller afresh (the tests keep one app context, so one ``g``)."""

    def open(self, *args, **kwargs):
        g.pop("api_actor", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def limited_app(database_url, tmp_path):
    for app in make_test_app(database_url, tmp_path, API_RATE_LIMIT="3/minute", API_RATE_LIMIT_TOKEN="5/minute"):
        for path in PROBES.values():  # stand-ins for the API's routes, known to this test alone
            app.add_url_rule(path, path, lambda: {"ok": True})
        yield app


@pytest.fixture
def api(limited_app):
    limited_app.test_client_class = ApiClient
    return limited_app.test_client()


def _token(agency_role: str = "member") -> str:
    system = system_actor()
    user = make_user(system, make_agency(system), agency_role)
    return create_token(system, user, "t")[1]


def test_anonymous_calls_are_limited_per_address_with_headers(api):
    for remaining in (2, 1, 0):
        response = api.get(PROBES["rest"])
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Remaining"] == str(remaining)
        assert int(response.headers["X-RateLimit-Reset"]) > time.time()
    refused = api.get(PROBES["rest"])
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    body = refused.get_json()
    assert body["error"]["code"] == "rate_limited" and body["error"]["fields"] == {}
    assert "giây" in body["error"]["message"]
    # Another address has its own budget.
    assert api.get(PROBES["rest"], environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200


def test_one_budget_across_the_whole_api(api):
    assert [api.get(PROBES[name]).status_code for name in ("rest", "ckan", "ckan_short", "rest")] == [200, 200, 200, 429]


def test_ckan_routes_get_ckans_envelope(api):
    for _ in range(3):
        api.get(PROBES["ckan"])
    for path in (PROBES["ckan"], PROBES["ckan_short"]):
        refused = api.get(path)
        assert refused.status_code == 429 and "Retry-After" in refused.headers
        body = refused.get_json()
        assert body["success"] is False
        assert body["error"]["__type"] == "Rate Limit Error" and "giây" in body["error"]["message"]
        assert body["help"].endswith("/api/3/action/help_show?name=status_show")  # the probes have no <name>


def test_the_real_apis_answer_429_in_their_own_shape(api, limited_app):
    for _ in range(3):
        assert api.get("/api/3/action/status_show").status_code == 200
    refused = api.get("/api/3/action/package_list")
    assert refused.status_code == 429 and refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.get_json()["help"].endswith("/api/3/action/help_show?name=package_list")
    assert refused.get_json()["error"]["__type"] == "Rate Limit Error"
    rest = api.get("/api/v1/datasets")
    assert rest.status_code == 429 and rest.get_json()["error"]["code"] == "rate_limited"

def test_pages_outside_the_api_are_never_limited(api):
    for _ in range(3):
        api.get(PROBES["rest"])
    assert api.get(PROBES["rest"]).status_code == 429
    for _ in range(6):
        response = api.get("/about")
        assert response.status_code == 200 and "X-RateLimit-Limit" not in response.headers


def test_a_token_has_its_own_budget_and_limit(api):
    first, second = _token(), _token()
    for _ in range(3):
        api.get(PROBES["rest"])
    assert api.get(PROBES["rest"]).status_code == 429  # the address is spent...
    statuses = [api.get(PROBES["rest"], headers={"Authorization": f"Bearer {first}"}).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]  # ...the token is not, and has the token limit
    refused = api.get(PROBES["rest"], headers={"X-CKAN-API-Key": first})  # same token, CKAN's header
    assert refused.status_code == 429 and refused.headers["X-RateLimit-Limit"] == "5"
    assert api.get(PROBES["rest"], headers={"Authorization": second}).status_code == 200


def test_an_invalid_token_counts_against_the_address(api):
    for _ in range(3):
        assert api.get(PROBES["rest"], headers={"Authorization": "Bearer gia-mao"}).status_code == 200
    assert api.get(PROBES["rest"], headers={"Authorization": "Bearer gia-mao-khac"}).status_code == 429
    assert api.get(PROBES["rest"]).status_code == 429


def test_counters_never_hold_the_token(api, limited_app):
    secret = _token()
    api.get(PROBES["rest"], headers={"Authorization": f"Bearer {secret}"})
    path = Path(limited_app.config["INSTANCE"]) / "ratelimit.db"
    with sqlite3.connect(path) as connection:
        keys = [key for (key,) in connection.execute("SELECT key FROM counter")]
    assert keys and not any(secret in key for key in keys)
    assert any(hashlib.sha256(secret.encode()).hexdigest() in key for key in keys)


def test_limits_can_be_switched_off(database_url, tmp_path):
    for app in make_test_app(database_url, tmp_path, API_RATE_LIMIT="1/minute", RATE_LIMIT_ENABLED=False):
        app.add_url_rule(PROBES["rest"], "probe", lambda: {"ok": True})
        client = app.test_client()
        responses = [client.get(PROBES["rest"]) for _ in range(4)]
        assert [response.status_code for response in responses] == [200] * 4
        assert "X-RateLimit-Limit" not in responses[-1].headers


def test_a_malformed_limit_stops_the_start(tmp_path):
    with pytest.raises(RuntimeError, match="OPENDATA_API_RATE_LIMIT"):
        create_app({"INSTANCE": str(tmp_path), "API_RATE_LIMIT": "120 per moon"})


# --- the SQLite storage ----------------------------------------------------------------------

@pytest.fixture
def storage(tmp_path):
    return storage_from_string(default_storage_uri(tmp_path / "inst ance"))


def test_the_scheme_is_registered_and_needs_an_absolute_path(storage, tmp_path):
    assert isinstance(storage, SqliteStorage) and storage.check()
    assert storage.path == tmp_path.resolve() / "inst ance" / "ratelimit.db"
    with pytest.raises(ConfigurationError):
        storage_from_string("opendata+sqlite://relative/ratelimit.db")


def test_fixed_window_counting_and_expiry(storage):
    now = [1000.0]
    storage.clock = lambda: now[0]
    assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.incr("k", 60, amount=2) == 5
    assert storage.get("k") == 5 and storage.get_expiry("k") == 1060.0
    assert storage.get("other") == 0 and storage.get_expiry("other") == 1000.0
    now[0] = 1059.9
    assert storage.incr("k", 60) == 6
    now[0] = 1060.0  # the window is over: a new one starts from this hit
    assert storage.get("k") == 0
    assert storage.incr("k", 60) == 1 and storage.get_expiry("k") == 1120.0
    storage.clear("k")
    assert storage.get("k") == 0
    storage.incr("a", 60)
    storage.incr("b", 60)
    assert storage.reset() == 2 and storage.get("a") == 0


def test_expired_counters_are_purged(storage):
    now = [1000.0]
    storage.clock = lambda: now[0]
    for key in ("a", "b", "c"):
        storage.incr(key, 10)
    now[0] = 1100.0 + SqliteStorage.PURGE_EVERY
    storage.incr("d", 10)
    with sqlite3.connect(storage.path) as connection:
        assert [key for (key,) in connection.execute("SELECT key FROM counter")] == ["d"]


def _hammer(uri: str, hits: int, queue) -> None:
    store = storage_from_string(uri)
    queue.put([store.incr("shared", 60) for _ in range(hits)])


def test_processes_share_the_counters_without_losing_a_hit(storage):
    storage.incr("warm", 60)  # the parent's connection must not leak into the forked children
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_hammer, args=(f"opendata+sqlite://{storage.path}", 50, queue))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    seen = [value for _ in workers for value in queue.get(timeout=60)]
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(seen) == list(range(1, 201))  # every hit got its own count: none lost, none doubled
    assert storage.get("shared") == 200


# --- a real gunicorn with two workers -------------------------------------------------------

PROBE_APP = textwrap.dedent("""
    import os, time
    from opendata import create_app

    app = create_app()

    @app.get("/api/v1/_limits_probe")
    def probe():
        time.sleep(0.25)  # keeps a worker busy, so concurrent calls spread over both
        return {"ok": True}

    @app.get("/_probe/ready")
    def ready():
        return "ok"

    @app.after_request
    def worker(response):
        response.headers["X-Worker"] = str(os.getpid())
        return response
""")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(url: str, token: str | None = None) -> tuple[int, dict[str, str], dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.fixture
def served(tmp_path):
    """The portal (SQLite, throwaway instance) under gunicorn with 2 sync workers on loopback."""
    instance = tmp_path / "instance"
    app = create_app({"INSTANCE": str(instance), "TASK_QUEUE": "immediate"})
    with app.app_context():
        upgrade()
        sync_vocabularies()
        system = system_actor()
        tokens = [create_token(system, make_user(system, make_agency(system), "member"), "t")[1] for _ in range(2)]
        db.engine.dispose()
    (tmp_path / "probe_wsgi.py").write_text(PROBE_APP)
    port = _free_port()
    env = {**os.environ, "OPENDATA_INSTANCE": str(instance), "OPENDATA_API_RATE_LIMIT": "5/minute",
           "OPENDATA_API_RATE_LIMIT_TOKEN": "5/minute", "OPENDATA_TASK_QUEUE": "immediate"}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "--chdir", str(REPO), "--pythonpath", str(tmp_path), "--log-level", "warning", "probe_wsgi:app"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base + "/_probe/ready", timeout=2).read()
                if len(children.read_text().split()) == 2:
                    break
            except OSError:
                pass
            if server.poll() is not None:
                pytest.fail("gunicorn exited: " + server.stderr.read().decode()[-2000:])
            time.sleep(0.2)
        else:
            pytest.fail("gunicorn did not start")
        yield base, tokens
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)


def test_two_gunicorn_workers_share_one_budget(served):
    base, (token, other_token) = served
    url = base + PROBES["rest"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        anonymous = list(pool.map(lambda _: _call(url), range(6)))
    assert len({headers["X-Worker"] for _, headers, _ in anonymous}) == 2  # both workers answered
    assert sorted(status for status, _, _ in anonymous) == [200] * 5 + [429]
    _, headers, body = next(answer for answer in anonymous if answer[0] == 429)
    assert 0 < int(headers["Retry-After"]) <= 60 and body["error"]["code"] == "rate_limited"

    # The address is spent; a token has its own budget, shared by both workers too.
    with ThreadPoolExecutor(max_workers=6) as pool:
        with_token = list(pool.map(lambda _: _call(url, token), range(6)))
    assert len({headers["X-Worker"] for _, headers, _ in with_token}) == 2
    assert sorted(status for status, _, _ in with_token) == [200] * 5 + [429]
    assert _call(url, other_token)[0] == 200
    assert _call(url)[0] == 429
