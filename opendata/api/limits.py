"""Rate limits of the JSON APIs: one budget per client across every route under ``/api/``.

Flask-Limiter does the limiting. A client is its API token when the request carries
a valid one (keyed by the token's SHA-256, never the token itself) and its IP address
otherwise; each has its own limit (``API_RATE_LIMIT_TOKEN``, ``API_RATE_LIMIT``).
An invalid token counts against the address, so guessing tokens is limited too.

The limit is an *application* limit, not a per-route default: a client has one
budget for the whole API, whichever REST route or CKAN action it calls, and routes
added later are covered without a decorator. A request filter exempts everything
outside ``/api/``.

The counters must be shared by every gunicorn worker. ``memory://`` is per process,
and the ``limits`` library's other storages (Redis, Memcached, MongoDB) each need a
server, so the embedded default is ``SqliteStorage`` below: a ``limits`` storage
registered under ``opendata+sqlite://``, one small SQLite file in the instance folder
that every process on the machine opens. Several machines use ``redis://``.

Over the limit the answer is 429 with ``Retry-After``, in the error shape of the API
that was called: CKAN's envelope under ``/api/3/`` and ``/api/action/``, the REST
shape elsewhere. Every limited answer carries ``X-RateLimit-Limit``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from flask import Flask, jsonify, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many
from limits.errors import ConfigurationError
from limits.storage import Storage

from opendata.accounts.auth import token_from
from opendata.api.auth import InvalidToken, api_actor

log = logging.getLogger(__name__)

SCHEME = "opendata+sqlite"
CKAN_PREFIXES = ("/api/3/", "/api/action/", "/api/util/status")
RATE_LIMIT_ERROR = "Rate Limit Error"  # CKAN defines no type for 429; ckanapi raises CKANAPIError for it


class SqliteStorage(Storage):
    """Fixed-window counters in a SQLite file, shared by every process that opens it.

    ``opendata+sqlite:///absolute/path/ratelimit.db``. Each ``incr`` is one UPSERT
    with RETURNING, a transaction of its own, so concurrent workers never lose a
    hit. WAL lets readers run beside the writer, the busy timeout makes a worker
    wait for another's write instead of failing, and ``synchronous=OFF`` is enough
    for counters that a crash may at worst reset. Only the fixed-window strategy
    is supported (the limits library asks nothing more of a storage).
    """

    STORAGE_SCHEME = [SCHEME]
    PURGE_EVERY = 60.0  # seconds between deletions of expired counters, per process
    BUSY_TIMEOUT_MS = 5000

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        parsed = urlparse(uri or "")
        if parsed.netloc or not parsed.path.startswith("/"):
            raise ConfigurationError(f"{SCHEME}:// needs an absolute path: {SCHEME}:///path/to/ratelimit.db")
        self.path = Path(unquote(parsed.path))
        self._local = threading.local()
        self._next_purge = 0.0
        self.clock = time.time  # wall-clock seconds, which every process agrees on
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _db(self) -> sqlite3.Connection:
        """This thread's connection, opened afresh in a forked child (gunicorn --preload)."""
        connection = getattr(self._local, "connection", None)
        if connection is None or self._local.pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.BUSY_TIMEOUT_MS / 1000,
                                         isolation_level=None, check_same_thread=True)
            connection.execute(f"PRAGMA busy_timeout={self.BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")
            connection.execute("CREATE TABLE IF NOT EXISTS counter ("
                               "key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires_at REAL NOT NULL)"
                               " WITHOUT ROWID")
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self.clock()
        db = self._db()
        # A counter whose window has ended starts again from `amount` with a new expiry.
        (value,) = db.execute(
            "INSERT INTO counter (key, value, expires_at) VALUES (:key, :amount, :now + :expiry) "
            "ON CONFLICT (key) DO UPDATE SET "
            "value = CASE WHEN counter.expires_at <= :now THEN excluded.value ELSE counter.value + excluded.value END, "
            "expires_at = CASE WHEN counter.expires_at <= :now THEN excluded.expires_at ELSE counter.expires_at END "
            "RETURNING value",
            {"key": key, "amount": amount, "now": now, "expiry": expiry},
        ).fetchone()
        if now >= self._next_purge:
            self._next_purge = now + self.PURGE_EVERY
            db.execute("DELETE FROM counter WHERE expires_at <= ?", (now,))
        return value

    def get(self, key: str) -> int:
        row = self._db().execute("SELECT value FROM counter WHERE key = ? AND expires_at > ?",
                                 (key, self.clock())).fetchone()
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        now = self.clock()
        row = self._db().execute("SELECT expires_at FROM counter WHERE key = ? AND expires_at > ?",
                                 (key, now)).fetchone()
        return row[0] if row else now

    def check(self) -> bool:
        try:
            self._db().execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    def reset(self) -> int | None:
        return self._db().execute("DELETE FROM counter").rowcount

    def clear(self, key: str) -> None:
        self._db().execute("DELETE FROM counter WHERE key = ?", (key,))


def default_storage_uri(instance: str | Path) -> str:
    return f"{SCHEME}://{quote(str(Path(instance).resolve() / 'ratelimit.db'))}"


def client_key() -> str:
    """The client a request counts against: its valid token's hash, else its address."""
    secret = token_from(request)
    if secret:
        try:
            user = api_actor()  # cached in g for the view
        except InvalidToken:
            user = None
        if user is not None:
            return "token:" + hashlib.sha256(secret.encode()).hexdigest()
    return "ip:" + (request.remote_addr or "unknown")


def init_app(app: Flask) -> Limiter:
    """Limit ``/api/`` as configured; the limiter is ``app.extensions["opendata_limiter"]``."""
    config = app.config
    storage_uri = config["RATE_LIMIT_STORAGE"] or default_storage_uri(config["INSTANCE"])
    for key in ("API_RATE_LIMIT", "API_RATE_LIMIT_TOKEN"):
        try:
            parse_many(config[key])  # refuse to start on a typo rather than never limit
        except ValueError as error:
            raise RuntimeError(f"OPENDATA_{key}: {error}") from error

    def limit_for_request() -> str:
        key = client_key()
        return config["API_RATE_LIMIT_TOKEN"] if key.startswith("token:") else config["API_RATE_LIMIT"]

    limiter = Limiter(
        key_func=client_key,
        application_limits=[limit_for_request],
        storage_uri=storage_uri,
        strategy="fixed-window",
        headers_enabled=True,
        key_prefix="opendata-api",
        # A storage failure must not take the API down: the request goes through, and it is logged.
        swallow_errors=True,
        enabled=config["RATE_LIMIT_ENABLED"],
    )

    @limiter.request_filter
    def outside_api() -> bool:
        return not request.path.startswith("/api/") or request.method == "OPTIONS"

    limiter.init_app(app)
    app.extensions["opendata_limiter"] = limiter
    app.register_error_handler(RateLimitExceeded, _too_many_requests(limiter))
    return limiter


def _too_many_requests(limiter: Limiter):
    def handle(error: RateLimitExceeded):
        current = limiter.current_limit
        wait = max(1, math.ceil(current.reset_at - time.time())) if current else 60
        message = (f"Bạn đã gửi quá nhiều yêu cầu ({error.description}). "
                   f"Vui lòng thử lại sau {wait} giây.")
        if request.path.startswith(CKAN_PREFIXES):
            action = (request.view_args or {}).get("name") or "status_show"
            body = {"help": f"{request.host_url}api/3/action/help_show?name={action}",
                    "success": False, "error": {"__type": RATE_LIMIT_ERROR, "message": message}}
        else:
            body = {"error": {"code": "rate_limited", "message": message, "fields": {}}}
        response = jsonify(body)
        response.status_code = 429
        response.headers["Retry-After"] = str(wait)  # Flask-Limiter sets it again, to the same window end
        return response

    return handle
