"""Benchmark of the public portal under gunicorn (2 workers, 4 connections), side by side
with the framework's ceiling: the dataset page against a minimal Flask endpoint, a
100 MB download against a bare ``send_file``, and the server's memory during a 1 GB download.

    python -m bench.serve --datasets 10000 [--seconds 10]

The catalogue is generated once into bench/out/cat-N (synthetic, see bulk.py).
"""

from __future__ import annotations

import argparse
import io
import os
import time
import urllib.request
from urllib.parse import quote
from pathlib import Path

from opendata.catalog import resources, services, workflow
from opendata import create_app
from opendata.accounts.services import system_actor
from opendata.catalog.models import Dataset
from opendata.extensions import db
from bench.bulk import bulk_generate
from bench.server import Gunicorn, sample_memory_during, wrk

OUT = Path(__file__).resolve().parent / "out"
CHUNK = 1024 * 1024


class PatternStream(io.RawIOBase):
    """`size` bytes of a repeating pseudo-random pattern, read in chunks (never all in memory)."""

    def __init__(self, size: int):
        self.remaining = size
        self.block = os.urandom(CHUNK)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = min(self.remaining, CHUNK if n is None or n < 0 else n)
        self.remaining -= n
        return self.block[:n]


def big_file_urls(instance: Path) -> dict[str, tuple[str, Path]]:
    """Download paths and stored files of a 100 MB and a 1 GB resource, created once."""
    app = create_app({"INSTANCE": str(instance)})
    urls = {}
    with app.app_context():
        actor = system_actor()
        for label, size in (("100mb", 100 * 10**6), ("1gb", 10**9)):
            name = f"tep-lon-tong-hop-{label}"
            dataset = db.session.query(Dataset).filter_by(name=name).one_or_none()
            if dataset is None:
                dataset = services.create_dataset(actor, {
                    "name": name, "title": f"Tệp lớn tổng hợp {label} (dữ liệu tổng hợp)",
                    "notes": "Tệp giả lập để đo tốc độ tải về.", "agency": "co-quan-tong-hop-01", "license_id": "cc-by"})
                resources.add_resource(actor, dataset, {"name": f"Tệp {label}"},
                                      resources.Upload(PatternStream(size), f"tệp-lớn-{label}.bin"))
                workflow.publish(actor, dataset)
            resource = dataset.resources[0]
            urls[label] = (f"/dataset/{dataset.name}/resource/{resource.id}/download/{quote(resource.filename)}",
                           services.file_store().path(resource.storage_key))
        names = [name for (name,) in db.session.query(Dataset.name).filter(Dataset.state == "published")]
        db.engine.dispose()
    (instance / "dataset_paths.txt").write_text("".join(f"/dataset/{name}\n" for name in names))
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=10000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()

    instance = OUT / f"cat-{args.datasets}"
    print(f"catalogue: {instance} ({args.datasets} synthetic datasets)")
    bulk_generate(instance, args.datasets)
    files = big_file_urls(instance)
    paths = instance / "dataset_paths.txt"

    with Gunicorn(instance, env={"BENCH_FILE": str(files["100mb"][1])}) as server:
        run = dict(connections=args.connections, seconds=args.seconds)
        wrk("warm-up", server.base + "/", connections=2, seconds=2, paths_file=paths)
        ceiling = wrk("minimal Flask endpoint", server.base + "/_bench/ceiling", **run)
        page = wrk("dataset page /dataset/<name>", server.base + "/", paths_file=paths, **run)
        bare = wrk("bare send_file 100 MB", server.base + "/_bench/sendfile", **run)
        download = wrk("portal download 100 MB", server.base + files["100mb"][0], **run)

        received = 0

        def one_gigabyte():
            nonlocal received
            with urllib.request.urlopen(server.base + files["1gb"][0]) as response:
                while chunk := response.read(CHUNK):
                    received += len(chunk)

        started = time.perf_counter()
        before, peak = sample_memory_during(server, one_gigabyte)
        gigabyte_seconds = time.perf_counter() - started
        if received != 10**9:
            raise RuntimeError(f"the 1 GB download returned {received} bytes")
        server_peak = server.peak_mb()

    print(f"\n{'endpoint':32} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'MB/s':>9} {'errors':>7}")
    for result in (ceiling, page, bare, download):
        print(f"{result.name:32} {result.rps:9.1f} {result.p50_ms:8.2f} {result.p95_ms:8.2f} "
              f"{result.mb_per_s:9.1f} {result.errors:7d}")
    print(f"\ndataset page / minimal endpoint req/s: {page.rps / ceiling.rps:.1%} (target ≥ 15%)")
    print(f"portal download / bare send_file MB/s: {download.mb_per_s / bare.mb_per_s:.1%} (target ≥ 80%)")
    print(f"server RSS during a 1 GB download ({received / 1e6 / gigabyte_seconds:.0f} MB/s, one client): "
          f"{before:.1f} MB before, {peak:.1f} MB peak, +{peak - before:.1f} MB (target < 50 MB)")
    print(f"server peak RSS over the whole run (master + 2 workers): {server_peak:.1f} MB")


if __name__ == "__main__":
    main()
