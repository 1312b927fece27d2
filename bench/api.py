"""Benchmark of the JSON APIs under gunicorn (2 workers, 4 connections) on a 10,000-dataset catalogue,
side by side with the framework's ceiling (a minimal Flask endpoint in the same server):

- CKAN ``package_show`` over every dataset name, in random order;
- CKAN ``package_search`` with five facets, over a mix of queries (words, words without
  diacritics, a phrase), and without ``q`` (what a harvester pages through);
- REST ``/api/v1/datasets/<name>`` over every dataset name.

    python -m bench.api [--datasets 10000] [--seconds 10] [--connections 4] [--rounds 3]

The catalogue is generated once into bench/out/api-N (synthetic, see bulk.py) and its
Whoosh index built once. The API's rate limit stays on, raised far above what the
run can reach, so its cost (one counter write and two reads per call) is in the
figures; that cost is also timed in-process, since two HTTP runs differ by more than it
on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from statistics import median
from urllib.parse import quote, urlencode

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import select

from bench.bulk import bulk_generate
from bench.server import Gunicorn, Result, wrk
from opendata import create_app
from opendata.api.limits import default_storage_uri
from opendata.catalog.models import Dataset, DatasetState
from opendata.extensions import db
from opendata.search import sync

OUT = Path(__file__).resolve().parent / "out"
FACETS = ["organization", "groups", "tags", "res_format", "license_id"]
QUERIES = ["trường", "chuyen doi", '"dữ liệu số"', "đất đai"]  # words, no diacritics, a phrase
CEILING = "minimal Flask endpoint"
TARGETS = {"package_show": 0.20, "package_search, 5 facets": 0.05, "package_search, no q, 5 facets": 0.05}
UNLIMITED = {"OPENDATA_API_RATE_LIMIT": "1000000000/minute", "OPENDATA_API_RATE_LIMIT_TOKEN": "1000000000/minute"}


def prepare(instance: Path, count: int) -> list[str]:
    """Generate the catalogue and index it if needed; the published dataset names."""
    rate = bulk_generate(instance, count)
    if rate:
        print(f"  generated at {rate:.0f} datasets/s", flush=True)
    app = create_app({"INSTANCE": str(instance)})
    with app.test_request_context("/"):
        drift = sync.check()
        if drift.total:
            started = time.perf_counter()
            indexed = sync.reindex()
            print(f"  indexed {indexed} datasets in {time.perf_counter() - started:.0f} s", flush=True)
        names = list(db.session.scalars(select(Dataset.name).where(Dataset.state == DatasetState.PUBLISHED,
                                                                   Dataset.deleted_at.is_(None))))
        db.engine.dispose()
    return names


def write_paths(instance: Path, label: str, paths: list[str]) -> Path:
    file = instance / f"api_paths_{label}.txt"
    file.write_text("".join(path + "\n" for path in paths))
    return file


def check(base: str, path: str, success_key: str | None) -> bool:
    """One call answers 200 (and CKAN's success), else the endpoint is reported as missing."""
    try:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        print(f"  {path}: HTTP {error.code}; not measured", flush=True)
        return False
    if success_key and not body.get(success_key):
        print(f"  {path}: {str(body)[:200]}; not measured", flush=True)
        return False
    return True


def limiter_cost(instance: Path, calls: int = 20000) -> float:
    """Microseconds the limiter's storage spends on one API call: the hit, then the window
    read back for the X-RateLimit headers, as Flask-Limiter does (in-process, one client key)."""
    storage = storage_from_string(default_storage_uri(instance / "bench-limiter"))
    limiter = FixedWindowRateLimiter(storage)
    item = parse("1000000000/minute")
    storage.reset()
    started = time.perf_counter()
    for _ in range(calls):
        limiter.hit(item, "opendata-api", "ip:127.0.0.1", "global")
        limiter.get_window_stats(item, "opendata-api", "ip:127.0.0.1", "global")
    return (time.perf_counter() - started) / calls * 1e6


# Queries the HTTP runs never send: each is asked for the first time, then again.
UNSEEN_QUERIES = ["du lịch", "y tế", "giáo dục", "nông nghiệp", "thuế", "bệnh viện", "dân số", "chuyển đổi số",
                  "hành chính", "môi trường", "giao thông", "ngân sách", "doanh nghiệp", "lao động", "nước", "rừng"]


def first_and_repeated_search_ms(instance: Path) -> tuple[float, float, float]:
    """In-process package_search with 5 facets for queries never asked before: median and
    worst milliseconds the first time (no cached ranking), and the median when asked again."""
    os.environ.update(UNLIMITED, OPENDATA_INSTANCE=str(instance))
    client = create_app().test_client()
    facet_field = json.dumps(FACETS)
    first, again = [], []
    client.get("/api/3/action/package_search?q=x")  # open the index once
    for q in UNSEEN_QUERIES:
        path = "/api/3/action/package_search?" + urlencode({"q": q, "facet.field": facet_field, "rows": 10})
        for timings in (first, None, again):  # the second asking ranks in full; the third reads it
            started = time.perf_counter()
            client.get(path)
            if timings is not None:
                timings.append((time.perf_counter() - started) * 1000)
    return median(first), max(first), median(again)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=10000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every measurement; medians are reported")
    args = parser.parse_args()

    instance = OUT / f"api-{args.datasets}"
    print(f"catalogue: {instance} ({args.datasets} synthetic datasets)", flush=True)
    names = prepare(instance, args.datasets)
    facet_field = json.dumps(FACETS)
    endpoints = {
        "package_show": (write_paths(instance, "show", [
            "/api/3/action/package_show?" + urlencode({"id": name}) for name in names]), "success"),
        "package_search, 5 facets": (write_paths(instance, "search", [
            "/api/3/action/package_search?" + urlencode({"q": q, "facet.field": facet_field, "rows": 10})
            for q in QUERIES]), "success"),
        "package_search, no q, 5 facets": (write_paths(instance, "search_all", [
            "/api/3/action/package_search?" + urlencode({"facet.field": facet_field, "rows": 10})]), "success"),
        "GET /api/v1/datasets/<name>": (write_paths(instance, "rest", [
            f"/api/v1/datasets/{quote(name)}" for name in names]), None),
    }
    run = dict(connections=args.connections, seconds=args.seconds)
    rounds: list[dict[str, Result]] = []
    with Gunicorn(instance, env=UNLIMITED) as server:
        for label, (paths, key) in list(endpoints.items()):
            if check(server.base, paths.read_text().splitlines()[0], key):
                wrk("warm-up", server.base + "/", connections=args.connections, seconds=2, paths_file=paths)
            else:
                del endpoints[label]
        # Rounds, each measuring the ceiling and every endpoint back to back: on a shared
        # machine the load moves between runs, and a ratio within one round moves less.
        for number in range(1, args.rounds + 1):
            results = {CEILING: wrk(CEILING, server.base + "/_bench/ceiling", **run)}
            for label, (paths, _) in endpoints.items():
                results[label] = wrk(label, server.base + "/", paths_file=paths, **run)
            rounds.append(results)
            print(f"  round {number}: " + ", ".join(f"{label} {result.rps:.0f}/s" for label, result in results.items()),
                  flush=True)
    limiter_us = limiter_cost(instance)
    report(rounds, limiter_us)
    first, worst, again = first_and_repeated_search_ms(instance)
    print(f"package_search with words, in-process, {len(UNSEEN_QUERIES)} queries never asked before: "
          f"first time median {first:.1f} ms (worst {worst:.1f} ms); asked again median {again:.1f} ms")


def report(rounds: list[dict[str, Result]], limiter_us: float) -> None:
    """Medians over the rounds: req/s, p50, p95, and the ratio to the ceiling of the same round."""
    print(f"\nmedians of {len(rounds)} round(s):")
    print(f"{'endpoint':32} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7} {'of minimal':>11}")
    ratios: dict[str, float] = {}
    for label in rounds[0]:
        runs = [results[label] for results in rounds]
        ratios[label] = median(results[label].rps / results[CEILING].rps for results in rounds)
        print(f"{label:32} {median(r.rps for r in runs):9.1f} {median(r.p50_ms for r in runs):8.2f} "
              f"{median(r.p95_ms for r in runs):8.2f} {sum(r.errors for r in runs):7d} {ratios[label]:11.1%}")
    if "package_show" in ratios:
        per_call_us = 1e6 * 2 / median(results["package_show"].rps for results in rounds)  # two workers
        print(f"rate limiter (SQLite counters): {limiter_us:.0f} µs per API call, "
              f"{limiter_us / per_call_us:.1%} of a package_show's {per_call_us:.0f} µs of worker time")
    for label, target in TARGETS.items():
        if label in ratios:
            print(f"{label} / minimal endpoint req/s: {ratios[label]:.1%} (target ≥ {target:.0%}) "
                  f"{'met' if ratios[label] >= target else 'NOT met'}")
        else:
            print(f"{label}: endpoint missing, not measured")


if __name__ == "__main__":
    main()
