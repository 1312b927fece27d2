"""An upload that never finishes leaves no row and no file: the real app under gunicorn
(one sync worker, 127.0.0.1), a multipart body sent slowly over a raw socket, and then
either the server killed with SIGKILL or the client gone mid-upload.

Runs on SQLite only, in an instance folder of its own (not the shared ``app`` fixture):
the server is another process. The upload is interrupted only once the worker's
temporary file in the store already holds a few MB, so the tests check a real
half-received upload, not a request that had not started.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from opendata import create_app
from opendata.accounts import services as accounts
from opendata.catalog import services as catalog
from opendata.extensions import db

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DATASET = "tai-len-bi-ngat"
DECLARED = 50 * 1024 * 1024  # the Content-Length announced; never sent in full
CHUNK = 128 * 1024
RECEIVED_BEFORE_INTERRUPTING = 4 * 1024 * 1024


def _settings(instance: Path) -> dict[str, str]:
    """Everything the server needs from its instance folder, whatever the CI's environment says."""
    return {"INSTANCE": str(instance), "DATABASE_URL": f"sqlite:///{instance / 'portal.db'}",
            "STORAGE_PATH": str(instance / "files"), "SEARCH": "whoosh", "SEARCH_PATH": str(instance / "search"),
            "TASK_QUEUE": "immediate"}


def _environment(instance: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENDATA_")}
    return {**env, **{f"OPENDATA_{key}": value for key, value in _settings(instance).items()}}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, str]:
    """An instance migrated by ``opendata db upgrade`` with an editor's token and a draft dataset (made once)."""
    instance = tmp_path_factory.mktemp("upload-template") / "instance"
    instance.mkdir()
    subprocess.run([str(BIN / "opendata"), "db", "upgrade"], env=_environment(instance), cwd=REPO,
                   check=True, capture_output=True, timeout=120)
    app = create_app(_settings(instance))
    with app.app_context():
        catalog.sync_vocabularies()
        system = accounts.system_actor()
        agency = catalog.create_agency(system, {"name": "co-quan-tai-len", "title": "Cơ quan thử tải lên"})
        editor = accounts.create_user(system, {"name": "bien-tap-vien", "email": "bien-tap-vien@example.org",
                                               "password": "mat-khau-du-dai"})
        accounts.add_member(system, agency, editor, "editor")
        _, token = accounts.create_token(system, editor, "tai-len")
        catalog.create_dataset(editor, {"name": DATASET, "title": "Tải lên bị ngắt", "notes": "Thử nghiệm.",
                                        "agency": agency.name, "license_id": "cc-by"})
        db.session.remove()
        db.engine.dispose()
    return instance, token


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    instance: Path

    @property
    def worker(self) -> int:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        assert len(children) == 1, f"expected one gunicorn worker, found {children}"
        return int(children[0])

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=5) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(instance: Path, log: Path) -> Server:
    for _attempt in range(3):  # another process may take the free port before gunicorn binds it
        port = _free_port()
        with log.open("ab") as output:
            process = subprocess.Popen(
                [str(BIN / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{port}", "--timeout", "60",
                 "--log-level", "warning", "--chdir", str(REPO), "wsgi:app"],
                env=_environment(instance), stdout=output, stderr=output)
        server = Server(process, port, instance)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            if server.answers():
                return server
            time.sleep(0.1)
        _kill(server)
    pytest.fail(f"gunicorn did not start:\n{log.read_text(errors='replace')[-3000:]}")


def _gone(pid: int) -> bool:
    try:
        state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                     if line.startswith("State:"))
    except FileNotFoundError:
        return True
    return " Z " in state or state.endswith("Z") or "zombie" in state


def _kill(server: Server) -> None:
    """SIGKILL the master and its worker (nothing gets to clean up), then wait until both are gone."""
    pids = [server.process.pid]
    try:
        pids.append(server.worker)
    except (AssertionError, FileNotFoundError, ValueError):
        pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in pids)


@pytest.fixture
def server(seeded, tmp_path):
    template, token = seeded
    instance = tmp_path / "instance"
    shutil.copytree(template, instance)
    started = _start(instance, tmp_path / "gunicorn.log")
    started.token = token
    yield started
    if started.process.poll() is None:
        _kill(started)


def _receiving_sizes(worker: int, storage: Path) -> list[int]:
    """Sizes of the files the worker holds open in the store's ``tmp/`` (the uploads being received)."""
    sizes = []
    folder = str(storage / "tmp")
    try:
        descriptors = list(Path(f"/proc/{worker}/fd").iterdir())
    except FileNotFoundError:
        return sizes
    for descriptor in descriptors:
        try:
            if os.readlink(descriptor).startswith(folder):
                sizes.append(os.stat(descriptor).st_size)
        except FileNotFoundError:
            continue
    return sizes


def _begin_upload(server: Server) -> socket.socket:
    """Send a multipart upload slowly until the worker has written a few MB of it; returns the open socket."""
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"lon.bin\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    length = len(head) + DECLARED + len(f"\r\n--{boundary}--\r\n")
    request = (f"POST /dataset/{DATASET}/resource/new HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
               f"Authorization: Bearer {server.token}\r\nAccept: application/json\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n").encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(request + head)
    block = os.urandom(CHUNK)
    worker, storage = server.worker, server.instance / "files"
    deadline = time.monotonic() + 15
    sent = 0
    while sent + CHUNK < DECLARED and time.monotonic() < deadline:
        sock.sendall(block)
        sent += CHUNK
        time.sleep(0.002)  # slowly: about 50 MB/s at most, so the body is never all sent
        if sent >= RECEIVED_BEFORE_INTERRUPTING and max(_receiving_sizes(worker, storage), default=0) \
                >= RECEIVED_BEFORE_INTERRUPTING:
            return sock
    sock.close()
    pytest.fail(f"the worker had not received {RECEIVED_BEFORE_INTERRUPTING} bytes after {sent} were sent")


def _resource_rows(instance: Path) -> int:
    with sqlite3.connect(instance / "portal.db") as connection:
        return connection.execute("SELECT count(*) FROM resource").fetchone()[0]


def _stored_files(instance: Path) -> list[Path]:
    return [path for path in (instance / "files").rglob("*") if not path.is_dir()]


def test_server_killed_mid_upload_leaves_no_row_and_no_file(server):
    sock = _begin_upload(server)
    try:
        _kill(server)
    finally:
        sock.close()

    assert _resource_rows(server.instance) == 0
    assert _stored_files(server.instance) == []


def test_client_gone_mid_upload_leaves_no_row_and_no_file(server):
    sock = _begin_upload(server)
    worker = server.worker
    sock.close()

    deadline = time.monotonic() + 5
    while _receiving_sizes(worker, server.instance / "files") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _receiving_sizes(worker, server.instance / "files") == [], "the worker still holds the partial upload"
    assert server.answers()
    assert server.worker == worker  # the same worker let go of the upload; it was not restarted
    assert _resource_rows(server.instance) == 0
    assert _stored_files(server.instance) == []
