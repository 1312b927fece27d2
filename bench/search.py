"""Search benchmark: index build rate, index size and query latency on both backends.

    python -m bench.search --sizes 1000 10000 100000 [--postgres postgresql+psycopg://…/db] [--http-seconds 3]

For each size, a synthetic catalogue (bench/bulk.py) is generated once into
bench/out/search-N (SQLite, for Whoosh) and, with --postgres, into that server's
database (one database per size: <db>_N, created if missing). Then, per backend:
index build rate (datasets/s) and size, and p50/p95 of a fixed query mix measured
in-process through the search service (facets always counted) and over HTTP
(gunicorn, 2 workers, `wrk` with 4 connections, loopback only).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.bulk import bulk_generate
from bench.server import Gunicorn, wrk
from opendata import create_app
from opendata.search import service, sync

OUT = Path(__file__).resolve().parent / "out"
QUERY_MIX = {
    "one word": {"q": "trường"},
    "two words, no diacritics": {"q": "chuyen doi"},
    "phrase": {"q": '"dữ liệu số"'},
    "two facet filters": {"organization": "co-quan-tong-hop-01", "res_format": "CSV"},
    "empty query, all facets": {},
}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _database_for(url: str, size: int) -> str:
    """A PostgreSQL database per catalogue size, created on first use."""
    base = make_url(url)
    name = f"{base.database}_{size}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _folder_size(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def measure(instance: Path, size: int, search: str, database_url: str | None, repeats: int, http_seconds: int) -> dict:
    overrides = {"INSTANCE": str(instance), "SEARCH": search}
    if database_url:
        overrides.update(DATABASE_URL=database_url, SQLALCHEMY_DATABASE_URI=database_url)
    app = create_app(overrides)
    report: dict = {"backend": search, "size": size}
    with app.test_request_context("/dataset"):
        started = time.perf_counter()
        count = sync.reindex()
        seconds = time.perf_counter() - started
        report["build_rate"] = count / seconds
        if search == "whoosh":
            report["index_mb"] = _folder_size(Path(app.config["SEARCH_PATH"])) / 1e6
        else:
            with app.extensions["sqlalchemy"].engine.connect() as connection:
                report["index_mb"] = connection.execute(
                    text("SELECT pg_total_relation_size('search_entry')")).scalar() / 1e6
        service.search_datasets(None)  # warm the caches, as a running server has them
        timings = {}
        for label, params in QUERY_MIX.items():
            filters = {key: [value] for key, value in params.items() if key != "q"}
            samples = []
            for _ in range(repeats):
                begin = time.perf_counter()
                service.search_datasets(None, q=params.get("q", ""), filters=filters)
                samples.append((time.perf_counter() - begin) * 1000)
            timings[label] = samples
        report["in_process"] = timings
        report["mix_p50"] = statistics.median([t for samples in timings.values() for t in samples])
        report["mix_p95"] = _percentile([t for samples in timings.values() for t in samples], 0.95)
    env = {"OPENDATA_SEARCH": search}
    if database_url:
        env["OPENDATA_DATABASE_URL"] = database_url
    if http_seconds:
        with Gunicorn(instance, env=env) as server:
            # Every worker builds its caches on its first requests: warm each query on all of them.
            for label, params in QUERY_MIX.items():
                wrk("warm-up", server.base + "/dataset?" + urlencode(params), connections=4, seconds=2)
            report["http"] = {label: wrk(label, server.base + "/dataset?" + urlencode(params), seconds=http_seconds)
                              for label, params in QUERY_MIX.items()}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--postgres", help="SQLAlchemy URL of a PostgreSQL server's database to benchmark on")
    parser.add_argument("--repeats", type=int, default=40, help="in-process runs of each query")
    parser.add_argument("--http-seconds", type=int, default=3, help="wrk run per query; 0 skips HTTP")
    args = parser.parse_args()

    reports = []
    for size in args.sizes:
        instance = OUT / f"search-{size}"
        print(f"catalogue of {size} synthetic datasets: {instance}", flush=True)
        rate = bulk_generate(instance, size)
        if rate:
            print(f"  generated at {rate:.0f} datasets/s", flush=True)
        reports.append(measure(instance, size, "whoosh", None, args.repeats, args.http_seconds))
        if args.postgres:
            url = _database_for(args.postgres, size)
            os.environ["OPENDATA_DATABASE_URL"] = url
            try:
                pg_rate = bulk_generate(OUT / f"search-{size}-pg", size)
            finally:
                os.environ.pop("OPENDATA_DATABASE_URL")
            if pg_rate:
                print(f"  generated in PostgreSQL at {pg_rate:.0f} datasets/s", flush=True)
            reports.append(measure(OUT / f"search-{size}-pg", size, "postgres", url, args.repeats, args.http_seconds))

    print(f"\n{'backend':9} {'datasets':>9} {'build/s':>9} {'index MB':>9} {'mix p50':>8} {'mix p95':>8}   (ms, in-process)")
    for report in reports:
        print(f"{report['backend']:9} {report['size']:9d} {report['build_rate']:9.0f} {report['index_mb']:9.1f} "
              f"{report['mix_p50']:8.1f} {report['mix_p95']:8.1f}")
    print("\nper query, in-process p50/p95 ms | HTTP req/s, p50/p95 ms")
    for report in reports:
        print(f"{report['backend']} at {report['size']}:")
        for label, samples in report["in_process"].items():
            line = f"  {label:28} {statistics.median(samples):7.1f} {_percentile(samples, 0.95):7.1f}"
            if "http" in report:
                result = report["http"][label]
                line += f" | {result.rps:7.1f} {result.p50_ms:7.1f} {result.p95_ms:7.1f}"
            print(line)


if __name__ == "__main__":
    main()
