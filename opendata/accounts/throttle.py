"""Login throttling: failed logins counted per account and per address.

The failures live in the database (``LoginAttempt``), so every gunicorn worker
and every app server sees the same counts. A failure older than ``LOGIN_WINDOW``
seconds no longer counts and is deleted at the next failure.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from opendata.accounts.models import LoginAttempt
from opendata.catalog.models import utcnow
from opendata.errors import AppError
from opendata.extensions import db


class Throttled(AppError):
    status = 429
    code = "too_many_attempts"

    def __init__(self, wait_seconds: int):
        self.wait_seconds = max(1, int(wait_seconds))
        minutes = max(1, math.ceil(self.wait_seconds / 60))
        super().__init__(f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút.")


def _window() -> timedelta:
    return timedelta(seconds=current_app.config["LOGIN_WINDOW"])


def _wait(column, value: str, limit: int, now: datetime) -> int | None:
    """Seconds until ``value`` drops below ``limit`` failures in the window, or None if it already is."""
    recent = list(db.session.scalars(
        select(LoginAttempt.created_at).where(column == value, LoginAttempt.created_at > now - _window())
        .order_by(LoginAttempt.created_at.desc()).limit(limit)))
    if len(recent) < limit:
        return None
    # Once the limit-th newest failure leaves the window, fewer than ``limit`` remain.
    return math.ceil((recent[-1] + _window() - now).total_seconds())


def check(account: str, address: str) -> None:
    """Raise Throttled if the account or the address has too many recent failures."""
    now = utcnow()
    config = current_app.config
    waits = [_wait(LoginAttempt.account, account, config["LOGIN_MAX_FAILURES"], now),
             _wait(LoginAttempt.address, address, config["LOGIN_MAX_FAILURES_PER_ADDRESS"], now)]
    waits = [wait for wait in waits if wait is not None]
    if waits:
        raise Throttled(max(waits))


def record_failure(account: str, address: str) -> None:
    """Count a failed login and forget the failures that left the window; the caller commits."""
    now = utcnow()
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.created_at <= now - _window()))
    db.session.add(LoginAttempt(account=account, address=address[:64], created_at=now))


def clear(account: str) -> None:
    """Forget the account's failures after a successful login (the address keeps its count)."""
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.account == account))
