"""Keep the index in step with the database.

Changed datasets are noted at each flush, turned into index entries just before
the commit (while their rows can still be read) and written to the index only
after the commit succeeds; a rollback discards them. Any process may write: the
backends serialise writers. ``reindex`` rebuilds everything; ``check`` compares
the index with the database and repairs the drift.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from flask import Flask, current_app, has_app_context
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from opendata.catalog.models import Dataset, Resource
from opendata.extensions import db
from opendata.search.backends import backend, make_backend
from opendata.search.base import IndexEntry, SearchBackend
from opendata.search.entries import entry_for

log = logging.getLogger(__name__)
PENDING = "opendata_search_pending"
READY = "opendata_search_ready"


def _note_changes(session: Session, _context) -> None:
    pending: set[str] = session.info.setdefault(PENDING, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Dataset):
            pending.add(obj.id)
        elif isinstance(obj, Resource) and obj.dataset_id:
            pending.add(obj.dataset_id)


def _prepare(session: Session) -> None:
    pending = session.info.pop(PENDING, set())
    if not pending:
        return
    rows = {dataset.id: dataset for dataset in session.scalars(select(Dataset).where(Dataset.id.in_(pending)))}
    upserts, removals = [], []
    for dataset_id in pending:
        dataset = rows.get(dataset_id)
        if dataset is None or dataset.deleted_at is not None:
            removals.append(dataset_id)
        else:
            upserts.append(entry_for(dataset))
    ready = session.info.setdefault(READY, ([], []))
    ready[0].extend(upserts)
    ready[1].extend(removals)


def _apply(session: Session, index: SearchBackend | None) -> None:
    upserts, removals = session.info.pop(READY, ([], []))
    if not (upserts or removals) or index is None:
        return
    try:
        index.remove(removals)
        index.index(upserts)
    except Exception:  # the commit stands; `opendata search check` repairs the drift
        log.exception("search index update failed for %d datasets", len(upserts) + len(removals))
        if has_app_context() and current_app.testing:
            raise


def _discard(session: Session) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(READY, None)


def _current_backend() -> SearchBackend | None:
    if has_app_context():
        return current_app.extensions.get("opendata_search")
    return None


# Registered once on Flask-SQLAlchemy's session class: every app's sessions share it,
# and each commit finds the backend of the app it runs in.
@event.listens_for(FlaskSession, "after_flush")
def _after_flush(session, context):
    _note_changes(session, context)


@event.listens_for(FlaskSession, "before_commit")
def _before_commit(session):
    if _current_backend() is None:
        return
    session.flush()
    _prepare(session)


@event.listens_for(FlaskSession, "after_commit")
def _after_commit(session):
    _apply(session, _current_backend())


@event.listens_for(FlaskSession, "after_rollback")
def _after_rollback(session):
    _discard(session)


def register_search(app: Flask) -> None:
    """Create the app's search backend; the session hooks above keep it in step."""
    app.extensions["opendata_search"] = make_backend(app)


def indexable() -> Iterator[IndexEntry]:
    """Every dataset that belongs in the index, read in batches."""
    last = ""
    while True:
        batch = db.session.scalars(select(Dataset).where(Dataset.deleted_at.is_(None), Dataset.id > last)
                                   .order_by(Dataset.id).limit(1000)).all()
        if not batch:
            return
        for dataset in batch:
            yield entry_for(dataset)
        last = batch[-1].id
        db.session.expunge_all()


def indexable_count() -> int:
    return db.session.scalar(select(func.count(Dataset.id)).where(Dataset.deleted_at.is_(None))) or 0


def reindex(index: SearchBackend | None = None, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the whole index from the database; the old index serves until the new one is complete."""
    index = index or backend()

    def counted() -> Iterator[IndexEntry]:
        for entry in indexable():
            yield entry
            if progress:
                progress(1)

    return index.rebuild(counted())


@dataclass
class Drift:
    missing: list[str]
    stale: list[str]
    extra: list[str]

    @property
    def total(self) -> int:
        return len(self.missing) + len(self.stale) + len(self.extra)


def check(index: SearchBackend | None = None, *, repair: bool = False) -> Drift:
    """Compare the index with the database; with ``repair``, fix what differs."""
    index = index or backend()
    indexed = index.versions()
    expected = {entry.id: entry for entry in indexable()}
    drift = Drift(
        missing=sorted(set(expected) - set(indexed)),
        stale=sorted(key for key in set(expected) & set(indexed) if expected[key].version != indexed[key]),
        extra=sorted(set(indexed) - set(expected)),
    )
    if repair and drift.total:
        index.remove(drift.extra)
        index.index(expected[key] for key in drift.missing + drift.stale)
    return drift
