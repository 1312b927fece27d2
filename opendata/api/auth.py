"""Who calls the API: the owner of the request's API token, and nobody else.

The APIs never act on a browser's session cookie, so a page on another site cannot
make a logged-in browser write through them; that is why their routes need no CSRF
token (``accounts.auth.register_csrf`` skips ``/api/``).
"""

from __future__ import annotations

from flask import g, request

from opendata.accounts.auth import token_from
from opendata.accounts.models import User
from opendata.accounts.services import user_for_token
from opendata.errors import AppError


class InvalidToken(AppError):
    status = 401
    code = "invalid_token"
    message = "Khóa API không hợp lệ, đã hết hạn hoặc đã bị thu hồi."


def api_actor() -> User | None:
    """The token's user; None without a token. A token that does not authenticate is an error (401)."""
    if "api_actor" not in g:
        secret = token_from(request)
        user = user_for_token(secret) if secret else None
        if secret and user is None:
            raise InvalidToken()
        g.api_actor = user
    return g.api_actor
