"""Record activities in the caller's transaction, so they commit or roll back with the change."""

from __future__ import annotations

from typing import Any

from opendata.accounts.models import User
from opendata.activity.models import Activity
from opendata.extensions import db


def record(actor: User | None, verb: str, obj: Any, *, agency_id: str | None = None,
           before: dict | None = None, after: dict | None = None) -> Activity:
    """Add an activity for ``obj`` (any model with an ``id``); the caller commits."""
    data: dict[str, Any] = {}
    if before is not None:
        data["before"] = before
    if after is not None:
        data["after"] = after
    activity = Activity(
        actor_id=actor.id if actor is not None else None,
        verb=verb,
        object_type=type(obj).__name__.lower(),
        object_id=str(obj.id),
        agency_id=agency_id,
        data=data,
    )
    db.session.add(activity)
    return activity
