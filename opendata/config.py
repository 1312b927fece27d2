"""Every configuration key, declared once with its type, default and help text.

Values come from the environment (``OPENDATA_<KEY>``), then from the overrides
given to ``create_app``. With nothing set, everything lives in one instance
folder: the SQLite database, the search index and the uploaded files.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ENV_PREFIX = "OPENDATA_"
INSECURE_DEFAULT_KEY = "dev-insecure"


def _bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Setting:
    key: str
    type: Callable[[Any], Any]
    default: Any
    help: str
    blank: bool = False  # an empty environment value is a value (e.g. "no tile layer"), not "unset"


SETTINGS: tuple[Setting, ...] = (
    Setting("INSTANCE", str, "instance",
            "Instance folder holding the SQLite database, search index, files and secret key."),
    Setting("DATABASE_URL", str, None,
            "SQLAlchemy URL of the catalogue database; default: SQLite file `portal.db` in the instance folder. "
            "For PostgreSQL: `postgresql+psycopg://user:pass@host/db`."),
    Setting("SECRET_KEY", str, None,
            "Key signing sessions; default: generated once into `secret_key` in the instance folder."),
    Setting("STORAGE_PATH", str, None,
            "Folder of uploaded and sample files; default: `files/` in the instance folder."),
    Setting("METADATA_SCHEMA", str, None,
            "Path of a custom metadata schema YAML; default: `opendata/catalog/metadata_schema.yaml`."),
    Setting("SEARCH", str, "whoosh",
            "Search backend: `whoosh` (embedded, one machine) or `postgres` (needs a PostgreSQL database)."),
    Setting("SEARCH_PATH", str, None, "Folder of the Whoosh index; default: `search/` in the instance folder."),
    Setting("SITE_URL", str, "http://127.0.0.1:5000",
            "Public address of the portal, used in absolute links (feeds, DCAT, e-mails)."),
    Setting("SITE_TITLE", str, "Cổng dữ liệu mở Lâm Đồng", "Name of the portal shown in pages."),
    Setting("PAGE_SIZE", int, 20, "Datasets per page in lists."),
    Setting("MAX_UPLOAD_SIZE", int, 2 * 1024**3, "Largest accepted upload, in bytes."),
    Setting("MAIL_SERVER", str, None,
            "SMTP server for invitations and password resets; unset, messages are written to the log."),
    Setting("MAIL_PORT", int, 587, "SMTP port."),
    Setting("MAIL_USERNAME", str, None, "SMTP user name, if the server needs one."),
    Setting("MAIL_PASSWORD", str, None, "SMTP password."),
    Setting("MAIL_STARTTLS", _bool, True, "Upgrade the SMTP connection with STARTTLS."),
    Setting("MAIL_SENDER", str, "Cổng dữ liệu mở Lâm Đồng <no-reply@localhost>", "From address of the portal's e-mails."),
    Setting("INVITATION_DAYS", int, 7, "Days an invitation link stays valid."),
    Setting("LOGIN_MAX_FAILURES", int, 5,
            "Failed logins allowed per account within LOGIN_WINDOW before it is throttled."),
    Setting("LOGIN_MAX_FAILURES_PER_ADDRESS", int, 20,
            "Failed logins allowed per IP address within LOGIN_WINDOW."),
    Setting("LOGIN_WINDOW", int, 900, "Seconds over which failed logins are counted."),
    Setting("TASK_QUEUE", str, "sqlite",
            "Background jobs (huey): `sqlite` (a queue file in the instance folder, run by `opendata worker`), "
            "a `redis://` URL for several machines, or `immediate` to run jobs in the request (tests)."),
    Setting("SCAN_INLINE_MAX", int, 5 * 1024**2,
            "Tabular files up to this many bytes are scanned for personal data during the upload; "
            "larger ones in the background."),
    Setting("DATASTORE_QUERY_SECONDS", float, 10.0,
            "Longest a query on a table's rows (row API, previews, conversions) may run before it is stopped."),
    Setting("API_RATE_LIMIT", str, "120/minute",
            "Requests an anonymous client (per IP address) may make to `/api/`, e.g. `120/minute`, `1000/hour`."),
    Setting("API_RATE_LIMIT_TOKEN", str, "600/minute",
            "Requests a client with a valid API token (counted per token) may make to `/api/`."),
    Setting("RATE_LIMIT_STORAGE", str, None,
            "Where the API's rate-limit counters live, shared by every worker: default a SQLite file "
            "`ratelimit.db` in the instance folder (one machine); a `redis://` URL for several machines."),
    Setting("RATE_LIMIT_ENABLED", _bool, True, "Limit the API's request rate (off only for benchmarks or tests)."),
    Setting("PROXY_HOPS", int, 0,
            "Reverse proxies in front of the portal whose X-Forwarded-For/-Proto/-Host to trust "
            "(login throttling per address needs the client's address)."),
    Setting("MAP_TILE_URL", str, "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "Background tiles of the map previews (a Leaflet URL template, `{z}/{x}/{y}`); "
            "empty: no background, the features alone (a closed network).", blank=True),
    Setting("MAP_TILE_ATTRIBUTION", str,
            '&copy; <a href="https://www.openstreetmap.org/copyright">Những người đóng góp OpenStreetMap</a>',
            "Credit shown on the map previews for the tiles (HTML), as the tile provider requires."),
    Setting("PRODUCTION", _bool, False,
            "Refuse to start with an insecure secret key and mark cookies Secure."),
)


def load_settings(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the Flask config: declared defaults, then the environment, then overrides."""
    overrides = dict(overrides or {})
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = os.environ.get(ENV_PREFIX + setting.key)
        if setting.key in overrides:
            values[setting.key] = overrides.pop(setting.key)
        elif raw is not None and (raw != "" or setting.blank):
            values[setting.key] = setting.type(raw)
        else:
            values[setting.key] = setting.default
    instance = Path(values["INSTANCE"]).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    values["INSTANCE"] = str(instance)
    values["DATABASE_URL"] = values["DATABASE_URL"] or f"sqlite:///{instance / 'portal.db'}"
    values["STORAGE_PATH"] = str(Path(values["STORAGE_PATH"] or instance / "files").resolve())
    values["SEARCH_PATH"] = str(Path(values["SEARCH_PATH"] or instance / "search").resolve())
    values["SECRET_KEY"] = values["SECRET_KEY"] or _instance_secret(instance)
    values["SQLALCHEMY_DATABASE_URI"] = values["DATABASE_URL"]
    values["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(values["DATABASE_URL"])
    values["MAX_CONTENT_LENGTH"] = values["MAX_UPLOAD_SIZE"]
    values["SESSION_COOKIE_HTTPONLY"] = True
    values["SESSION_COOKIE_SAMESITE"] = "Lax"
    values["SESSION_COOKIE_SECURE"] = values["PRODUCTION"]
    values["REMEMBER_COOKIE_HTTPONLY"] = True
    values["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    values["REMEMBER_COOKIE_SECURE"] = values["PRODUCTION"]
    # CSRF tokens last as long as the session, so a form left open for an afternoon still posts.
    values["WTF_CSRF_TIME_LIMIT"] = None
    values.update(overrides)
    if values["PRODUCTION"] and values["SECRET_KEY"] == INSECURE_DEFAULT_KEY:
        raise RuntimeError("Refusing to start in production with the insecure default SECRET_KEY.")
    return values


def _instance_secret(instance: Path) -> str:
    """Read the instance's secret key, creating it atomically on first use.

    Several gunicorn workers may start at once: the first to link the file wins
    and the others read its key, so every worker signs sessions alike.
    """
    path = instance / "secret_key"
    if not path.exists():
        tmp = instance / f".secret_key.{os.getpid()}"
        tmp.write_text(secrets.token_urlsafe(48))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # Wait for another worker's write instead of failing with "database is locked".
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}
