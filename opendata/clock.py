"""Times: stored as naive UTC in the database, shown in Vietnam's time (UTC+7, no daylight saving)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

VIETNAM = timezone(timedelta(hours=7), "ICT")


def local_time(moment: datetime) -> datetime:
    """A stored (naive UTC, or aware) time as a naive Vietnam time."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(VIETNAM).replace(tzinfo=None)
