"""Fast synthetic catalogues for the search benchmark: N published datasets at thousands per second.

    python -m bench.bulk --instance bench/out/search-10000 --datasets 10000

``bench/generate.py`` goes through the services (about 50 datasets/s: a query per
name, tag and theme, a stored file, activities and four commits per dataset). This
module writes rows of the same shape, thousands per second, and reuses the portal's
own code wherever it shapes a row:

- names are ``opendata.text.slugify(title)``, made unique in memory exactly as
  ``services._unique_name`` does (``-2``, ``-3``... against the names already in the
  database and those generated so far);
- the stored ``document`` is ``opendata.catalog.document.build_document(dataset)``,
  run on real ``Dataset``/``Resource`` instances whose tags are ordered by name (in
  the database's collation, asked once) and themes by position, the order the
  relationships load in, so ``dataset.document == build_document(dataset)`` holds
  after a reload;
- resource formats and media types come from ``storage.sniff.MEDIA_TYPES`` (what an
  upload's sniffed content gives) and ``resources._format_from_name`` (a link's format);
  extras follow the metadata schema's field order.

How it is fast. Datasets are built in chunks of 500, each from a random stream of its
own, by worker processes forked from this one (``--workers``, one per CPU by default;
0 builds in-process) while this process writes. A dataset is first a dict per row,
ids and timestamps set in Python; a transient instance is made from those dicts (never
added to a session: values written into the instance dict as the ORM's loader does,
agency, licence, themes, tags and resources attached with ``set_committed_value``, so
no events, backrefs or unit of work run) and its document is built. The writer makes
the names unique, gives new tags their ids, inserts each chunk with one executemany
per table (dataset, resource, dataset_theme, dataset_tag) and commits every 2,000
datasets. While it runs, the garbage collector runs once per chunk instead of every
few hundred allocations. The catalogue does not depend on the
number of workers, nor on whether it was made at once or topped up (timestamps aside,
which are spread up to the moment of generation).

The catalogue is spread as ``bench/generate.py`` spreads it: 30 agencies
"Cơ quan tổng hợp NN" (created through ``services.create_agency`` when missing)
chosen with a Zipf law, one or two themes, one to four tags from a pool of 400
two-syllable Zipf tags, formats CSV/XLSX/JSON/PDF/GeoJSON/XML weighted 45/25/10/10/5/5,
titles of 10 and descriptions of 80 syllables from ``bench.vietnamese.ZipfText``
(6,000 syllables). Everything is marked synthetic: the agencies, the tag
"dữ liệu tổng hợp" on every dataset and the first line of every description.

What differs from datasets made through the services:

- No files on disk. Each dataset's main resource is a *link*: ``url`` is
  ``https://example.invalid/du-lieu/<filename>`` and ``storage_key`` is NULL (so the
  page shows "Mở liên kết" and the download route redirects instead of sending a
  file), but ``filename``, ``size``, ``sha256`` and ``media_type`` are filled as for
  an upload; the checksum is that of a made-up string, not of any content. 40 % of
  the datasets get a second, plain link, shaped exactly as ``services.add_resource``
  makes one.
- No activities are recorded for datasets and resources (the agencies created here
  do get their ``agency:create`` activity, since they go through the service).
- No search index entries: the rows never pass through the session's flush, which
  the index hooks watch. Index the catalogue afterwards (``opendata search reindex``
  with ``OPENDATA_INSTANCE`` set to the folder).
- ``created_at`` ≤ ``published_at`` ≤ ``updated_at`` are spread from 2019-01-01 to
  now; the services stamp all three within milliseconds of each other at generation
  time (``published_at`` last). Resources are created seconds after their dataset.
- ``download_count`` follows a Zipf-like (Pareto) law instead of being 0; a dataset's
  count is split over its resources, so it equals their sum as ``services.count_download``
  keeps it.

Running it again with a larger N tops the catalogue up.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import multiprocessing
import os
import random
import time
from bisect import bisect
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate, islice
from pathlib import Path
from typing import Any

from flask_migrate import upgrade
from sqlalchemy import column, func, insert, select, values
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.instrumentation import manager_of_class

from opendata import create_app
from opendata.accounts.services import system_actor
from opendata.catalog import resources as catalog_resources
from opendata.catalog import services
from opendata.catalog.document import build_document
from opendata.catalog.metadata import load_metadata_schema, load_vocabularies, vocabulary_values
from opendata.catalog.models import (
    Agency, Dataset, DatasetState, License, Resource, Tag, Theme, dataset_tag, dataset_theme, new_id, utcnow,
)
from opendata.extensions import db
from opendata.storage.sniff import MEDIA_TYPES
from opendata.text import slugify
from bench.vietnamese import ZipfText

SYNTHETIC_TAG = "dữ liệu tổng hợp"
SYNTHETIC_LINE = "**Dữ liệu tổng hợp để đo hiệu năng — không phải số liệu thật.**"
FORMATS = [("CSV", 45), ("XLSX", 25), ("JSON", 10), ("PDF", 10), ("GeoJSON", 5), ("XML", 5)]
AGENCIES = 30
TAG_POOL = 400
CHUNK = 500  # datasets built in one go (and one random stream), by a worker or in-process
BATCH = 2000  # datasets per commit
PROGRESS_EVERY = 10_000
SINCE = datetime(2019, 1, 1)
LINK_NAME = "Nguồn gốc trên hệ thống của cơ quan"
SOURCE = "Sinh tự động bởi bench/bulk.py (synthetic)."

Progress = Callable[[int, int, float], None]  # (datasets in the catalogue, target, datasets/s so far)


class ZipfPicker:
    """Picks items with probability proportional to 1 / (rank + 1) ** exponent, as generate.py does."""

    def __init__(self, items: list, weights: list[float] | None = None, exponent: float = 1.0):
        self.items = items
        weights = weights or [1 / (rank + 1) ** exponent for rank in range(len(items))]
        self.cumulative = list(accumulate(weights))

    def __call__(self, rng: random.Random):
        return self.items[bisect(self.cumulative, rng.random() * self.cumulative[-1])]


def _unique(base: str, taken: set[str]) -> str:
    """``services._unique_name`` against an in-memory set of names, which it then extends."""
    base = base or "bo-du-lieu"
    candidate, counter = base, 1
    while candidate in taken:
        counter += 1
        suffix = f"-{counter}"
        candidate = base[: 100 - len(suffix)] + suffix
    taken.add(candidate)
    return candidate


def _transient(cls, row: dict[str, Any]):
    """A transient instance holding ``row`` as loaded values: written straight into the instance
    dict, as the ORM's loader does, instead of through the constructor's per-attribute events."""
    obj = manager_of_class(cls).new_instance()
    obj.__dict__.update(row)
    return obj


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No automatic garbage collection (it cost ~15 %): chunks collect their own leftovers."""
    gc.collect()
    gc.freeze()  # the app, the models and the vocabularies are never traversed again
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def _ensure_agencies(actor) -> list[Agency]:
    names = [f"co-quan-tong-hop-{number:02d}" for number in range(1, AGENCIES + 1)]
    existing = set(db.session.scalars(select(Agency.name).where(Agency.name.in_(names))))
    for number, name in enumerate(names, start=1):
        if name not in existing:
            services.create_agency(actor, {"name": name, "title": f"Cơ quan tổng hợp {number:02d}",
                                           "description": "Cơ quan giả lập cho đo hiệu năng (dữ liệu tổng hợp)."})
    by_name = {agency.name: agency for agency in db.session.scalars(select(Agency).where(Agency.name.in_(names)))}
    return [by_name[name] for name in names]


def _collation_ranks(names: set[str]) -> dict[str, int]:
    """The rank of each name in ``ORDER BY tag.name``, the order Dataset.tags loads in: code points
    on SQLite (BINARY collation, as Python sorts), else the database's collation, asked once."""
    if db.engine.dialect.name == "sqlite":
        ordered = sorted(names)
    else:
        rows = values(column("name", Tag.__table__.c.name.type), name="names").data([(name,) for name in names])
        ordered = db.session.scalars(select(rows.c.name).order_by(rows.c.name)).all()
    return {name: rank for rank, name in enumerate(ordered)}


@dataclass
class Chunk:
    """The rows of consecutive datasets; tags by name, since new ones get their ids on insert."""

    datasets: list[dict[str, Any]] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    themes: list[dict[str, Any]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)  # (dataset id, tag name)


class Builder:
    """Builds chunks of published datasets, with their resources and document.

    It reads the database only when created: agencies, themes and the licence are then
    detached from the session, so nothing expires them and a forked worker never queries.
    """

    def __init__(self, actor, seed: int):
        self.actor_id, self.seed = actor.id, seed
        agencies = _ensure_agencies(actor)
        themes = {theme.name: theme for theme in db.session.scalars(select(Theme))}
        self.license = db.session.get(License, "cc-by")
        for obj in (*agencies, *themes.values(), self.license):
            db.session.expunge(obj)
        self.agency = ZipfPicker(agencies)
        self.theme = ZipfPicker([themes[item["name"]] for item in load_vocabularies()["themes"]], exponent=0.6)
        # The pool depends on the seed only, so that a top-up draws from the same tags.
        pool_text = ZipfText(seed=seed)
        pool = [" ".join(pool_text.words_(2)).lower() for _ in range(TAG_POOL)]
        self.tag = ZipfPicker(pool)
        self.tag_rank = _collation_ranks({*pool, SYNTHETIC_TAG})
        self.tags: dict[str, Tag] = {}  # transient, for documents: only their names are read
        self.format = ZipfPicker([fmt for fmt, _ in FORMATS], weights=[weight for _, weight in FORMATS])
        # As an upload's content is sniffed (storage.sniff) and a link's format read from its URL.
        self.media_types = {fmt: MEDIA_TYPES[fmt] for fmt, _ in FORMATS}
        self.link_format = catalog_resources._format_from_name(None, "https://example.invalid/du-lieu/0.csv")
        self.link_media_type = None  # resources.add_resource leaves a link's media type unset
        self.frequencies = vocabulary_values("frequencies")
        self.extra_order = [spec.field_name for spec in load_metadata_schema().dataset_fields if not spec.core]
        self.text = ZipfText(seed=seed)
        self.now = utcnow()
        self.span = (self.now - SINCE).total_seconds()

    def chunk(self, first: int, last: int) -> Chunk:
        """Datasets number ``first`` to ``last - 1``, from a random stream of their own: the
        catalogue does not depend on the number of workers, nor on how it was topped up."""
        gc.collect()  # the previous chunk's objects
        rng = random.Random(f"bulk:{self.seed}:{first}")
        self.text.random = random.Random(f"bulk-text:{self.seed}:{first}")
        chunk = Chunk()
        for index in range(first, last):
            self._dataset(index, rng, chunk)
        return chunk

    def _tag(self, name: str) -> Tag:
        tag = self.tags.get(name)
        if tag is None:
            tag = self.tags[name] = _transient(Tag, {"name": name})
        return tag

    def _dataset(self, index: int, rng: random.Random, chunk: Chunk) -> None:
        text = self.text
        title = text.sentence(10)
        notes = SYNTHETIC_LINE + "\n\n" + text.sentence(80) + "."
        created = SINCE + timedelta(seconds=rng.random() * self.span)
        published = min(created + timedelta(seconds=rng.uniform(60, 14 * 86400)), self.now)
        updated = min(published + timedelta(days=rng.expovariate(1 / 120)), self.now)
        themes = {self.theme(rng) for _ in range(rng.choice([1, 1, 2]))}
        tag_names = {SYNTHETIC_TAG} | {self.tag(rng) for _ in range(rng.randint(1, 4))}
        extra = {"update_frequency": rng.choice(self.frequencies), "spatial": ["Tỉnh Lâm Đồng"],
                 "source": SOURCE, "language": ["vi"]}
        downloads = min(int(20 * (rng.paretovariate(1.0) - 1)), 500_000)  # half under 20, a few huge
        agency = self.agency(rng)
        row = dict(
            # The name is made unique when the chunk is written (Writer.write).
            id=new_id(), name=slugify(title), title=title, notes=notes,
            agency_id=agency.id, license_id=self.license.id, state=DatasetState.PUBLISHED,
            extras={name: extra[name] for name in self.extra_order if name in extra},
            download_count=downloads, creator_id=self.actor_id,
            created_at=created, updated_at=updated, published_at=published, deleted_at=None)

        fmt = self.format(rng)
        filename = f"bang-du-lieu-{index}.{fmt.lower()}"
        at = created + timedelta(seconds=rng.uniform(1, 30))
        resources = [dict(
            id=new_id(), dataset_id=row["id"], position=0, name=f"Bảng dữ liệu ({fmt})", description=None,
            format=fmt, media_type=self.media_types[fmt], url=f"https://example.invalid/du-lieu/{filename}",
            storage_key=None, filename=filename, size=min(int(300 * rng.paretovariate(0.8)), 2 * 1024**3),
            sha256=hashlib.sha256(f"{self.seed}:{index}:{filename}".encode()).hexdigest(),
            schema=None, extras={}, download_count=downloads, created_at=at, updated_at=at)]
        if rng.random() < 0.4:
            at += timedelta(seconds=rng.uniform(1, 30))
            link_downloads = downloads // 5
            resources[0]["download_count"] -= link_downloads
            resources.append(dict(
                id=new_id(), dataset_id=row["id"], position=1, name=LINK_NAME, description=None,
                format=self.link_format, media_type=self.link_media_type,
                url=f"https://example.invalid/du-lieu/{index}.csv", storage_key=None, filename=None,
                size=None, sha256=None, schema=None, extras={}, download_count=link_downloads,
                created_at=at, updated_at=at))

        # A transient dataset, never added to a session, its relationships attached without
        # events (no backref into agency.datasets, no unit of work) in the order they load in.
        dataset = _transient(Dataset, row)
        set_committed_value(dataset, "agency", agency)
        set_committed_value(dataset, "license", self.license)
        set_committed_value(dataset, "themes", sorted(themes, key=lambda theme: theme.position))
        set_committed_value(dataset, "tags", [self._tag(name) for name in sorted(tag_names, key=self.tag_rank.get)])
        set_committed_value(dataset, "resources", [_transient(Resource, resource) for resource in resources])
        row["document"] = build_document(dataset)

        chunk.datasets.append(row)
        chunk.resources += resources
        chunk.themes += [{"dataset_id": row["id"], "theme_id": theme.id} for theme in dataset.themes]
        chunk.tags += [(row["id"], tag.name) for tag in dataset.tags]


class Writer:
    """Inserts chunks in order, one executemany per table, parents first; commits every BATCH datasets."""

    def __init__(self):
        self.taken = set(db.session.scalars(select(Dataset.name)))
        self.tag_ids = {name: tag_id for name, tag_id in db.session.execute(select(Tag.name, Tag.id))}
        self.uncommitted = 0

    def write(self, chunk: Chunk) -> None:
        for row in chunk.datasets:
            name = _unique(row["name"], self.taken)
            if name != row["name"]:  # the one field of the document that depends on other datasets
                row["name"] = row["document"]["name"] = name
        new = {name: Tag(name=name) for _, name in chunk.tags if name not in self.tag_ids}
        if new:
            db.session.add_all(new.values())
            db.session.flush()
            self.tag_ids.update((name, tag.id) for name, tag in new.items())
        tags = [{"dataset_id": dataset_id, "tag_id": self.tag_ids[name]} for dataset_id, name in chunk.tags]
        for table, rows in ((Dataset.__table__, chunk.datasets), (Resource.__table__, chunk.resources),
                            (dataset_theme, chunk.themes), (dataset_tag, tags)):
            if rows:
                _check_columns(table, rows[0])
                db.session.execute(insert(table), rows)
        self.uncommitted += len(chunk.datasets)
        if self.uncommitted >= BATCH:
            self.commit()

    def commit(self) -> None:
        db.session.commit()
        self.uncommitted = 0
        gc.collect()  # paused meanwhile (see _collector_paused)


def _check_columns(table, row: dict[str, Any]) -> None:
    """Every NOT NULL column without a default is given: the model may have changed under us."""
    missing = [col.name for col in table.columns if col.name not in row and not col.nullable and col.default is None]
    unknown = set(row) - set(table.columns.keys())
    if missing or unknown:
        raise RuntimeError(f"{table.name}: rows lack {missing} or have unknown columns {sorted(unknown)}")


_worker_builder: Builder | None = None  # set before forking; each worker inherits it


def _forget_connections() -> None:
    """In a forked worker: drop the inherited pooled connections unused (they are the parent's)."""
    db.engine.dispose(close=False)


def _build_in_worker(first: int, last: int) -> Chunk:
    assert _worker_builder is not None
    return _worker_builder.chunk(first, last)


def _chunks(builder: Builder, bounds: list[tuple[int, int]], workers: int) -> Iterator[Chunk]:
    """The chunks in order: built in-process, or by forked workers while this process writes."""
    global _worker_builder
    if workers < 1 or len(bounds) < 2:
        for first, last in bounds:
            yield builder.chunk(first, last)
        return
    _worker_builder = builder
    try:
        # fork: the workers start with the app, the builder and its detached objects; they only compute.
        with multiprocessing.get_context("fork").Pool(workers, initializer=_forget_connections) as pool:
            waiting = iter(bounds)
            running = deque(pool.apply_async(_build_in_worker, item) for item in islice(waiting, 2 * workers))
            while running:
                chunk = running.popleft().get()
                for item in islice(waiting, 1):
                    running.append(pool.apply_async(_build_in_worker, item))
                yield chunk
    finally:
        _worker_builder = None


def bulk_generate(instance: Path, count: int, *, seed: int = 2026, progress: Progress | None = None,
                  workers: int | None = None) -> float:
    """Top the catalogue in ``instance`` up to ``count`` published datasets; returns datasets created per second.

    ``workers``: processes building datasets while this one writes them (default: one per CPU;
    0 builds in this process). The catalogue is the same whatever their number.
    """
    workers = (os.cpu_count() or 1) if workers is None else workers
    app = create_app({"INSTANCE": str(instance)})
    with app.app_context():
        upgrade()
        services.sync_vocabularies()
        start = db.session.scalar(select(func.count()).select_from(Dataset))
        builder = Builder(system_actor(), seed)
        writer = Writer()
        db.session.commit()  # no transaction open across the fork
        bounds = [(first, min(first + CHUNK, count)) for first in range(start, count, CHUNK)]
        began = time.perf_counter()
        with _collector_paused(), db.session.no_autoflush:
            done = start
            for chunk in _chunks(builder, bounds, workers):
                writer.write(chunk)
                before, done = done, done + len(chunk.datasets)
                if progress is not None and (done // PROGRESS_EVERY > before // PROGRESS_EVERY or done == count):
                    progress(done, count, (done - start) / (time.perf_counter() - began))
            writer.commit()
        elapsed = time.perf_counter() - began
        db.session.remove()
        db.engine.dispose()
    created = max(count - start, 0)
    return created / elapsed if created and elapsed else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instance", type=Path, required=True, help="instance folder to fill (created if missing)")
    parser.add_argument("--datasets", type=int, default=10_000, help="number of datasets the catalogue should hold")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=None,
                        help="processes building datasets (default: one per CPU; 0: none, build in-process)")
    args = parser.parse_args()

    def report(done: int, total: int, rate: float) -> None:
        print(f"  {done}/{total} datasets ({rate:.0f}/s)", flush=True)

    rate = bulk_generate(args.instance, args.datasets, seed=args.seed, progress=report, workers=args.workers)
    print(f"catalogue in {args.instance}: {args.datasets} datasets ({rate:.0f} created/s)")


if __name__ == "__main__":
    main()
