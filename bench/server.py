"""Run the portal under gunicorn on loopback and measure it with wrk (shared by the HTTP benchmarks)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


class Gunicorn:
    """gunicorn with N sync workers on 127.0.0.1, stopped on exit."""

    def __init__(self, instance: Path, *, workers: int = 2, app: str = "bench.wsgi_bench:app", env: dict | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, "OPENDATA_INSTANCE": str(instance), **(env or {})}
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(
            [str(gunicorn), "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning",
             "--chdir", str(REPO), app],
            env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base + "/_bench/ceiling", timeout=2).read()
                if len(self.worker_pids()) == workers:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def rss_mb(self) -> float:
        """Resident memory of the master and its workers, now."""
        pids = [self.process.pid, *self.worker_pids()]
        return sum(_rss_kb(pid) for pid in pids) / 1024

    def peak_mb(self) -> float:
        """Peak resident memory (VmHWM) of the master and its workers so far."""
        pids = [self.process.pid, *self.worker_pids()]
        return sum(_rss_kb(pid, "VmHWM") for pid in pids) / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    megabytes: float
    errors: int
    p50_ms: float
    p95_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.megabytes / self.seconds


def wrk(name: str, url: str, *, connections: int = 4, seconds: int = 10, paths_file: Path | None = None) -> Result:
    """One wrk run (bounded: `seconds` long, `connections` connections, loopback only)."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("benchmarks only target loopback")
    env = {**os.environ}
    if paths_file:
        env["BENCH_PATHS"] = str(paths_file)
    output = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s",
         "-s", str(WRK_SCRIPT), url], env=env, capture_output=True, text=True, check=True,
    ).stdout
    data = json.loads(output.strip().splitlines()[-1])
    return Result(name, data["requests"], data["duration_us"] / 1e6, data["bytes"] / 1e6,
                  data["errors"] + data["non2xx"], data["p50_us"] / 1000, data["p95_us"] / 1000)


def sample_memory_during(server: Gunicorn, action) -> tuple[float, float]:
    """Run `action` while sampling the server's RSS every 20 ms; returns (before, peak) in MB."""
    before = server.rss_mb()
    peak = before
    done = threading.Event()

    def sampler():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.rss_mb())
            time.sleep(0.02)

    thread = threading.Thread(target=sampler)
    thread.start()
    try:
        action()
    finally:
        done.set()
        thread.join()
    return before, peak
