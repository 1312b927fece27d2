"""How a request says who it is: the session cookie (Flask-Login) or an API token.

A token is accepted on every route, in ``Authorization`` (``Bearer <token>`` or the
bare token, as CKAN clients send it) or ``X-CKAN-API-Key``.
"""

from __future__ import annotations

from flask import Flask, Request, request
from flask_login import LoginManager

from opendata.accounts.models import User
from opendata.accounts.services import user_for_token
from opendata.extensions import csrf, db


def token_from(request: Request) -> str | None:
    header = request.headers.get("Authorization") or request.headers.get("X-CKAN-API-Key")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value else header.strip()


def register_auth(login_manager: LoginManager) -> None:
    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        user = db.session.get(User, user_id)
        # A blocked account loses its open sessions too, not only new logins.
        return None if user is None or user.is_system or not user.active else user

    @login_manager.request_loader
    def load_user_from_token(request: Request) -> User | None:
        token = token_from(request)
        return user_for_token(token) if token else None


def register_csrf(app: Flask) -> None:
    """Check the CSRF token of every unsafe request made with the session cookie.

    A request that carries an API token is exempt: a cross-site page can make a
    browser send cookies, but not an ``Authorization`` header.
    """
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    # Flask-WTF sends a bare 400; say what went wrong in Vietnamese and keep the error page.
    app.config.setdefault("WTF_CSRF_SSL_STRICT", True)

    @app.before_request
    def check_csrf() -> None:
        if not app.config.get("WTF_CSRF_ENABLED", True) or request.method in {"GET", "HEAD", "OPTIONS"} \
                or request.path.startswith("/api/"):
            return  # the APIs act only on tokens, never on the session (api/auth.py)
        token = token_from(request)
        if token and user_for_token(token) is not None:
            return  # a token that authenticates: a cross-site page cannot have sent it
        csrf.protect()
