"""The datastore's bookkeeping: which table holds a resource's rows, and how its load went."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opendata.catalog.models import Resource, utcnow
from opendata.extensions import db

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"


class DatastoreTable(db.Model):
    """One resource's rows in the database: the table that serves them and the last load's outcome.

    A load writes a new physical table (``loading_table``) while the previous one
    (``table_name``) keeps serving; on success the two swap and the old one is dropped.
    So a replaced file or a changed column type never leaves readers with half a table.
    """

    __tablename__ = "datastore_table"

    resource_id: Mapped[str] = mapped_column(ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True)
    table_name: Mapped[str | None] = mapped_column(String(63))  # the table serving rows, once a load succeeded
    loading_table: Mapped[str | None] = mapped_column(String(63))  # the table a running load writes
    sha256: Mapped[str | None] = mapped_column(String(64))  # the file the last load read
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)  # rows of the table serving them
    loading_rows: Mapped[int] = mapped_column(BigInteger, default=0)  # rows a running load has written so far
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # share of the file read, 0..1
    # Per column: {"id": header as written, "column": physical name, "type": Table Schema type, ...}
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the validation report (Frictionless' shape)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    resource: Mapped[Resource] = relationship(Resource)

    @property
    def ready(self) -> bool:
        """Whether rows can be served: a load has succeeded (a newer one may be running)."""
        return self.table_name is not None

    @property
    def busy(self) -> bool:
        return self.status in (PENDING, RUNNING)
