"""Small request helpers shared by the HTML views: who is asking, and which page of a list."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from opendata.accounts.models import User


def current_actor() -> User | None:
    """The signed-in user (session or API token), or None for an anonymous visitor."""
    return current_user._get_current_object() if current_user.is_authenticated else None


def page_number() -> int:
    """The ``page`` query parameter, 1 when missing or not a positive number."""
    try:
        return max(1, int(request.args.get("page", 1)))
    except ValueError:
        return 1
