"""Benchmark of a large upload through the portal under gunicorn (2 sync workers), side by
side with ``cat`` copying the same bytes on the same disk, with the serving worker's memory.

    python -m bench.upload [--size-mb 1024] [--rounds 3] [--keep]

A fresh instance folder is made under /tmp (SQLite) with an agency, an editor holding an
API token, and a draft dataset. The source file (a 1 MiB random block repeated) is written
once into that folder, so the upload, the store and ``cat`` all use the same disk. The
client streams the multipart body from disk in 1 MiB chunks (``http.client``), as
``curl -F file=@...`` would; the request is ``POST /dataset/<name>/resource/new`` with
``Authorization: Bearer`` and ``Accept: application/json``. MB are 10^6 bytes.

Writes into the page cache vary a lot from one second to the next on a shared virtual
disk, so ``cat`` and the upload alternate for a few rounds (everything synced to disk
before each) and the medians are compared.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from flask_migrate import upgrade

from opendata import create_app
from opendata.accounts import services as accounts
from opendata.catalog import services as catalog
from opendata.extensions import db
from bench.server import Gunicorn, _rss_kb

CHUNK = 1024 * 1024
DATASET = "tai-len-tep-lon"
WARM_UPS = 3


@dataclass(frozen=True)
class Setup:
    instance: Path
    token: str
    dataset: str


def prepare_instance(instance: Path) -> Setup:
    """Migrate a fresh instance and create what an upload needs, through the services."""
    app = create_app({"INSTANCE": str(instance)})
    with app.app_context():
        upgrade()
        catalog.sync_vocabularies()
        system = accounts.system_actor()
        agency = catalog.create_agency(system, {"name": "co-quan-do-tai-len", "title": "Cơ quan đo tải lên (tổng hợp)"})
        editor = accounts.create_user(system, {"name": "bien-tap-vien", "email": "bien-tap-vien@example.org",
                                               "password": "mat-khau-du-dai", "fullname": "Biên tập viên"})
        accounts.add_member(system, agency, editor, "editor")
        _, token = accounts.create_token(system, editor, "bench")
        catalog.create_dataset(editor, {"name": DATASET, "title": "Tệp lớn tải lên (dữ liệu tổng hợp)",
                                        "notes": "Bộ dữ liệu giả lập để đo tốc độ tải lên.",
                                        "agency": agency.name, "license_id": "cc-by"})
        db.engine.dispose()
    return Setup(instance, token, DATASET)


def write_source(path: Path, size: int) -> str:
    """Write ``size`` bytes of a repeated 1 MiB random block; returns their SHA-256."""
    block = os.urandom(CHUNK)
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        remaining = size
        while remaining:
            piece = block[:min(CHUNK, remaining)]
            handle.write(piece)
            digest.update(piece)
            remaining -= len(piece)
        handle.flush()
        os.fsync(handle.fileno())
    return digest.hexdigest()


def time_cat(source: Path, target: Path) -> tuple[float, float]:
    """Seconds of ``cat source > target``, and of the same followed by an fsync of target."""
    os.sync()
    started = time.perf_counter()
    with target.open("wb") as out:
        subprocess.run(["cat", str(source)], stdout=out, check=True, timeout=600)
        copied = time.perf_counter() - started
        os.fsync(out.fileno())
    durable = time.perf_counter() - started
    target.unlink()
    os.sync()
    return copied, durable


def upload(port: int, setup: Setup, source: Path, filename: str) -> dict:
    """POST ``source`` as the multipart part ``file``, streamed from disk; returns the JSON answer."""
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{filename}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        connection.putrequest("POST", f"/dataset/{setup.dataset}/resource/new")
        connection.putheader("Authorization", f"Bearer {setup.token}")
        connection.putheader("Accept", "application/json")
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(len(head) + source.stat().st_size + len(tail)))
        connection.endheaders()
        connection.send(head)
        with source.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                connection.sock.sendall(chunk)
        connection.send(tail)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 201:
        raise RuntimeError(f"upload answered {response.status}: {body[:500]!r}")
    return json.loads(body)["resources"][0]


class WorkerSampler:
    """Samples VmRSS of each gunicorn worker every 50 ms while running."""

    def __init__(self, pids: list[int], interval: float = 0.05):
        self.pids = pids
        self.interval = interval
        self.baseline = {pid: _rss_kb(pid) for pid in pids}
        self.peak = dict(self.baseline)
        self.samples = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.is_set():
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], _rss_kb(pid))
            self.samples += 1
            self._done.wait(self.interval)

    def __enter__(self) -> WorkerSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def busiest(self) -> int:
        """The worker whose memory grew the most: the one that served the upload."""
        return max(self.pids, key=lambda pid: self.peak[pid] - self.baseline[pid])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="Size of the uploaded file in MiB (default 1024).")
    parser.add_argument("--rounds", type=int, default=3, help="Alternated cat/upload rounds (default 3).")
    parser.add_argument("--keep", action="store_true", help="Keep the instance folder and the source file.")
    args = parser.parse_args()
    if args.size_mb < 1 or not 1 <= args.rounds <= 10:
        parser.error("--size-mb must be at least 1 and --rounds between 1 and 10")

    folder = Path(tempfile.mkdtemp(prefix="opendata-upload-", dir="/tmp"))
    try:
        size = args.size_mb * CHUNK
        instance = folder / "instance"
        setup = prepare_instance(instance)
        source = folder / "source.bin"
        print(f"instance: {instance}; writing a {size / 1e6:,.0f} MB source file on the same disk…")
        expected = write_source(source, size)
        warm = folder / "warm.bin"
        write_source(warm, 16 * CHUNK)

        cats, cat_fsyncs, uploads, answers = [], [], [], []
        with Gunicorn(instance, workers=2) as server:
            for number in range(WARM_UPS):  # two at once, so both workers import and connect before measuring
                pair = [threading.Thread(target=upload, args=(server.port, setup, warm, f"khoi-dong-{number}-{n}.bin"))
                        for n in range(2)]
                for thread in pair:
                    thread.start()
                for thread in pair:
                    thread.join(timeout=120)
            pids = server.worker_pids()
            hwm_before = {pid: _rss_kb(pid, "VmHWM") for pid in pids}
            with WorkerSampler(pids) as sampler:
                for number in range(args.rounds):
                    copied, durable = time_cat(source, folder / "copy.bin")
                    cats.append(copied)
                    cat_fsyncs.append(durable)
                    os.sync()
                    started = time.perf_counter()
                    answers.append(upload(server.port, setup, source, f"tep-lon-{number}.bin"))
                    uploads.append(time.perf_counter() - started)
                    print(f"round {number + 1}: cat {size / 1e6 / copied:,.0f} MB/s, "
                          f"upload {size / 1e6 / uploads[-1]:,.0f} MB/s", flush=True)
            worker = sampler.busiest()
            hwm_after = _rss_kb(worker, "VmHWM")
    finally:
        if args.keep:
            print(f"kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    for answer in answers:
        if answer["sha256"] != expected or answer["size"] != size:
            raise SystemExit(f"stored file differs: {answer['size']} bytes, sha256 {answer['sha256']} "
                             f"(expected {size} bytes, {expected})")
    megabytes = size / 1e6
    upload_seconds, cat_seconds, cat_fsync_seconds = map(statistics.median, (uploads, cats, cat_fsyncs))
    upload_rate, cat_rate, cat_fsync_rate = (megabytes / s for s in (upload_seconds, cat_seconds, cat_fsync_seconds))
    baseline, peak = sampler.baseline[worker] / 1024, sampler.peak[worker] / 1024
    print(f"\n{'copy of ' + format(megabytes, ',.0f') + ' MB, median of ' + str(args.rounds):40} {'seconds':>8} {'MB/s':>8}")
    print(f"{'upload POST /dataset/<name>/resource/new':40} {upload_seconds:8.2f} {upload_rate:8.0f}")
    print(f"{'cat src > dst':40} {cat_seconds:8.2f} {cat_rate:8.0f}")
    print(f"{'cat src > dst, then fsync dst':40} {cat_fsync_seconds:8.2f} {cat_fsync_rate:8.0f}")
    print(f"\nupload / cat MB/s: {upload_rate / cat_rate:.1%} (target ≥ 50%); "
          f"upload / (cat + fsync): {upload_rate / cat_fsync_rate:.1%}")
    print(f"sha256 of every stored file equals the source's: {expected[:16]}…")
    print(f"\nserving worker (pid {worker}), VmRSS sampled every 50 ms over the rounds ({sampler.samples} samples):")
    print(f"{'baseline RSS':24} {baseline:8.1f} MB")
    print(f"{'peak RSS':24} {peak:8.1f} MB")
    print(f"{'growth':24} {peak - baseline:8.1f} MB (target < 50 MB)")
    print(f"{'VmHWM before / after':24} {hwm_before.get(worker, 0) / 1024:8.1f} / {hwm_after / 1024:.1f} MB")


if __name__ == "__main__":
    main()
