"""Datastore benchmark: ingestion of a large CSV, then row queries side by side with datasette.

    python -m bench.datastore [--rows 1000000] [--requests 200] \
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/opendata_bench]

1. A synthetic CSV of N administrative dossiers (``bench/datastore/synthetic.py``:
   Vietnamese headers, day-first dates, dot-grouped amounts, ``96,4%``, ``có``/``không``,
   free Vietnamese text), cached in ``bench/out/datastore-csv/``.
2. Ingestion, per backend: a fresh portal (``bench/out/datastore-N/sqlite``, and with
   ``--pg-url`` or ``OPENDATA_BENCH_DATABASE_URL`` a fresh database
   ``<db>_datastore_N`` on that server) publishes the CSV through the services, then
   a child process runs ``opendata.datastore.ingest.load_table`` on it
   (``bench/datastore/loading.py``): rows/s, seconds, and the child's peak resident
   memory (VmHWM), next to its resident memory before the load.
3. Queries, sequential, over HTTP on 127.0.0.1 (``bench/datastore/queries.py``):
   ``GET /api/v1/resources/<id>/rows`` filtered on ``Xã/phường`` and sorted on
   ``Số tiền (đồng)`` desc, and with ``q=<word>`` (100 rows each, totals included),
   against datasette serving a copy of the same SQLite table with
   ``?Xã/phường=…&_sort_desc=Số tiền (đồng)&_size=100`` and ``?_search=<word>&_size=100``;
   the portal on PostgreSQL too when it is given. p50/p95 in milliseconds.

Targets (issue 6): ingestion ≥ 100,000 rows/s with a peak under 200 MB on both
backends; the portal's row-query p95 no slower than datasette's.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
from pathlib import Path

from bench.datastore.loading import LoadResult, Portal, fresh_postgres, measure_load, prepare
from bench.datastore.queries import ITEMS, Datasette, Timings, compare, export_for_datasette
from bench.datastore.synthetic import ensure_csv
from bench.server import Gunicorn

OUT = Path(__file__).resolve().parents[1] / "out"
TARGET_RATE, TARGET_MB = 100_000, 200


def _serving_table(portal_db: Path) -> tuple[str, list[dict]]:
    connection = sqlite3.connect(f"file:{portal_db}?mode=ro", uri=True)
    try:
        name, fields = connection.execute("SELECT table_name, fields FROM datastore_table").fetchone()
    finally:
        connection.close()
    return name, json.loads(fields)


def _print_loads(results: list[LoadResult]) -> None:
    print(f"\n{'ingestion':10} {'rows':>10} {'queryable':>10} {'rows/s':>9} {'+ indexes':>10} {'rows/s':>9} "
          f"{'RSS before':>11} {'peak (VmHWM)':>13}")
    for result in results:
        print(f"{result.backend:10} {result.rows:10,} {result.queryable_seconds:9.1f}s {result.queryable_rate:9,.0f} "
              f"{result.seconds:9.1f}s {result.rate:9,.0f} {result.rss_before_mb:8.1f} MB {result.peak_mb:10.1f} MB")
    print("queryable: rows written, full-text index built, the table serving rows (the job's status done);")
    print("+ indexes: the whole job, with the index on every column built after that, while rows are served")
    print(f"targets: ≥ {TARGET_RATE:,} rows/s, peak < {TARGET_MB} MB")


def _print_queries(requests: int, portal: Timings, datasette: Timings, postgres: Timings | None,
                   detail: bool) -> None:
    print(f"\nrow queries, {requests} sequential requests of each per server, ms")
    print(f"{'':18} {'portal':>17} {'datasette':>17} {'p95 ratio':>10}")
    print(f"{'query':18} {'p50':>8} {'p95':>8} {'p50':>8} {'p95':>8} {'portal/ds':>10}")
    for label in ITEMS:
        print(f"{label:18} {portal.p(label, .5):8.1f} {portal.p(label, .95):8.1f} "
              f"{datasette.p(label, .5):8.1f} {datasette.p(label, .95):8.1f} "
              f"{portal.p(label, .95) / datasette.p(label, .95):10.2f}")
    print("target: the portal's p95 no slower than datasette's (ratio ≤ 1)")
    if detail:
        print(f"\nmedian per place or word, ms {'portal':>8} {'datasette':>10}")
        for label, items in ITEMS.items():
            for item in items:
                print(f"  {label[:6]:6} {item:31.31} {portal.p((label, item), .5):8.1f} "
                      f"{datasette.p((label, item), .5):10.1f}")
    if postgres is not None:
        print(f"\n{'portal on PostgreSQL':18} {'p50':>8} {'p95':>8}")
        for label in ITEMS:
            print(f"{label:18} {postgres.p(label, .5):8.1f} {postgres.p(label, .95):8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the synthetic CSV (default 1,000,000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests of each query per server")
    parser.add_argument("--pg-url", default=os.environ.get("OPENDATA_BENCH_DATABASE_URL"),
                        help="SQLAlchemy URL of a PostgreSQL server (default: $OPENDATA_BENCH_DATABASE_URL)")
    parser.add_argument("--no-queries", action="store_true", help="measure the ingestion only")
    parser.add_argument("--detail", action="store_true", help="also print the median of each place and word")
    args = parser.parse_args()
    if args.rows < 1 or not 1 <= args.requests <= 10_000:
        parser.error("--rows must be positive and --requests between 1 and 10,000")

    csv_path = ensure_csv(args.rows)
    folder = OUT / f"datastore-{args.rows}"
    portals = [Portal("sqlite", folder / "sqlite")]
    if args.pg_url:
        portals.append(Portal("postgres", folder / "postgres", fresh_postgres(args.pg_url, args.rows)))
    else:
        print("no PostgreSQL URL (--pg-url or OPENDATA_BENCH_DATABASE_URL): SQLite only")

    loads, resource_ids = [], {}
    for portal in portals:
        print(f"{portal.backend}: publishing {csv_path.name} in a fresh portal…", flush=True)
        resource_ids[portal.backend] = prepare(portal, csv_path)
        print(f"{portal.backend}: loading {args.rows:,} rows…", flush=True)
        loads.append(measure_load(portal, resource_ids[portal.backend]))
    _print_loads(loads)
    if args.no_queries:
        return

    sqlite_portal = portals[0]
    table, fields = _serving_table(sqlite_portal.instance / "portal.db")
    copy = folder / "ho_so.db"
    print(f"\ncopying the portal's table into {copy} for datasette (same indexes, FTS5 by sqlite-utils)…", flush=True)
    export_for_datasette(sqlite_portal.instance / "portal.db", table, fields, copy)
    with Gunicorn(sqlite_portal.instance, workers=1, env=sqlite_portal.env()) as server, \
            Datasette(copy, folder / "datasette.log") as datasette:
        portal_times, datasette_times, differences = compare(
            server.base, resource_ids["sqlite"], datasette, args.requests)
    for difference in differences:
        print(f"  warning, the answers differ (their timings do not compare): {difference}")
    postgres_times = None
    if len(portals) > 1:
        with Gunicorn(portals[1].instance, workers=1, env=portals[1].env()) as server:
            postgres_times, _, _ = compare(server.base, resource_ids["postgres"], None, args.requests)
    _print_queries(args.requests, portal_times, datasette_times, postgres_times, args.detail)


if __name__ == "__main__":
    main()
