"""Helpers for tests that use the HTML forms: CSRF tokens and signing in."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from opendata.accounts.models import User

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token of the first form in a page."""
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def submit(client: FlaskClient, page: str, action: str | None = None, data: dict | None = None, **kwargs):
    """Open ``page``, then post ``data`` with its CSRF token to ``action`` (default: the page)."""
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(action or page, data={"csrf_token": token, **(data or {})}, **kwargs)


def sign_in(client: FlaskClient, user: User) -> None:
    """Start a session for ``user`` as the login form would (tests of other pages use this)."""
    with client.session_transaction() as session:
        session["_user_id"] = user.id
        session["_fresh"] = True
