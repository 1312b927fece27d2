"""Small request helpers shared by the HTML views: who is asking, and which page of a list."""

from __future__ import annotations

from urllib.parse import urlsplit

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


def safe_next(target: str | None) -> str | None:
    """A local path to go on to (``next``), or None: never another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(char) < 32 for char in target)):
        return None
    return target
