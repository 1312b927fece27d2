"""Cổng dữ liệu mở Lâm Đồng: the open data portal of Lâm Đồng province.

``create_app`` builds the Flask application: configuration, extensions, the
blueprints of each capability, the error handlers and the template helpers.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from opendata import models, tasks  # noqa: F401  (models: registers every table with the metadata and Alembic)
from opendata.accounts.auth import register_auth, register_csrf
from opendata.accounts.views import bp as accounts_bp
from opendata.activity.views import bp as activity_bp
from opendata.api import limits
from opendata.api.ckan.views import bp as ckan_bp
from opendata.api.v1 import bp as rest_v1_bp
from opendata.catalog.views import bp as catalog_bp
from opendata.commands import register_commands
from opendata.config import load_settings
from opendata.errors import register_error_handlers
from opendata.extensions import csrf, db, login_manager, migrate
from opendata.interop.views import bp as interop_bp
from opendata.privacy import gate  # noqa: F401  (registers its background job before the queue starts)
from opendata.publishing.views import bp as publish_bp
from opendata.search.sync import register_search
from opendata.storage.requests import UploadRequest
from opendata.templating import register_template_helpers

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the application; ``overrides`` (tests) win over the environment."""
    settings = load_settings(overrides)
    app = Flask(__name__, instance_path=settings["INSTANCE"])
    app.request_class = UploadRequest
    app.config.update(settings)
    if settings["PROXY_HOPS"]:
        hops = settings["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    # JSON in UTF-8 (Vietnamese stays readable) and in the order the code writes it.
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    _configure_logging()

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    login_manager.init_app(app)
    register_auth(login_manager)
    csrf.init_app(app)
    register_csrf(app)
    limits.init_app(app)
    register_search(app)
    tasks.init_app(app)

    app.register_blueprint(catalog_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(publish_bp)
    app.register_blueprint(activity_bp)
    app.register_blueprint(ckan_bp)
    app.register_blueprint(rest_v1_bp)
    app.register_blueprint(interop_bp)
    register_commands(app)
    register_error_handlers(app)
    register_template_helpers(app)
    return app


def _configure_logging() -> None:
    root = logging.getLogger()
    if not any(getattr(handler, "_opendata", False) for handler in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler._opendata = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.setLevel(logging.INFO)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets readers run beside a writer; foreign keys are off by default in SQLite."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
