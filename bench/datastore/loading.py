"""Ingestion of the synthetic CSV by the portal's own loader, timed in a process of its own.

``prepare`` makes a fresh portal (an instance folder, and on PostgreSQL a fresh
database) and publishes a dataset holding the CSV, through the services: the upload,
the personal-data scan (run inline here), the publication. The upload also queues
the datastore load (``ingest.start_load``), but the queue is the default SQLite
file and no worker runs it: the load itself is run by ``measure_load``, which
starts ``python -m bench.datastore.loading`` so that the figures are those of a
process that does nothing else. That process builds the app (which is what a job
worker holds at rest), reads its resident memory, calls
``opendata.datastore.ingest.load_table(resource_id)`` and prints one JSON line:
the seconds of that call, the rows loaded, and VmRSS before and VmHWM (the peak of
resident memory over the process's life) after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from opendata import create_app
from opendata.accounts.services import system_actor
from opendata.catalog import resources, services, workflow
from opendata.extensions import db

REPO = Path(__file__).resolve().parents[2]
AGENCY = "co-quan-do-kho-du-lieu"
DATASET = "ho-so-thu-tuc-hanh-chinh-tong-hop"
FILENAME = "ho-so-thu-tuc-hanh-chinh.csv"


@dataclass(frozen=True)
class Portal:
    """One portal under test: an instance folder and, for PostgreSQL, its database."""

    backend: str  # "sqlite" or "postgres"
    instance: Path
    database_url: str | None = None

    def overrides(self) -> dict:
        values = {"INSTANCE": str(self.instance), "RATE_LIMIT_ENABLED": False}
        if self.database_url:
            values.update(DATABASE_URL=self.database_url, SQLALCHEMY_DATABASE_URI=self.database_url)
        return values

    def env(self) -> dict[str, str]:
        """The environment that makes ``create_app()`` (a child, gunicorn) build this portal."""
        values = {"OPENDATA_INSTANCE": str(self.instance), "OPENDATA_RATE_LIMIT_ENABLED": "false"}
        if self.database_url:
            values["OPENDATA_DATABASE_URL"] = self.database_url
        return values


@dataclass(frozen=True)
class LoadResult:
    backend: str
    rows: int
    seconds: float
    rss_before_mb: float
    peak_mb: float
    status: str
    queryable_seconds: float  # until the rows are served with full-text search (the job's status "done")

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def queryable_rate(self) -> float:
        return self.rows / self.queryable_seconds if self.queryable_seconds else 0.0


def fresh_postgres(url: str, rows: int) -> str:
    """A new, empty database ``<db>_datastore_<rows>`` on the server of ``url`` (dropped first if there)."""
    base = make_url(url)
    name = f"{base.database or 'opendata_bench'}_datastore_{rows}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def prepare(portal: Portal, csv_path: Path) -> str:
    """Migrate a fresh portal and publish the CSV as a resource through the services; returns its id."""
    shutil.rmtree(portal.instance, ignore_errors=True)
    # The scan of a large file would otherwise wait for a worker, and publication for the scan.
    app = create_app({**portal.overrides(), "SCAN_INLINE_MAX": 1 << 40})
    with app.app_context():
        upgrade()
        services.sync_vocabularies()
        actor = system_actor()
        agency = services.create_agency(actor, {"name": AGENCY, "title": "Cơ quan đo kho dữ liệu (tổng hợp)"})
        dataset = services.create_dataset(actor, {
            "name": DATASET, "title": "Hồ sơ thủ tục hành chính theo xã, phường (dữ liệu tổng hợp)",
            "notes": "**Dữ liệu tổng hợp để đo hiệu năng — không phải số liệu thật.**",
            "agency": agency.name, "license_id": "cc-by", "themes": ["hanh-chinh-cong"],
            "access_level": "open", "importance": "other",
        })
        with csv_path.open("rb") as stream:
            resource = resources.add_resource(actor, dataset, {"name": "Hồ sơ thủ tục hành chính"},
                                              resources.Upload(stream, FILENAME))
        if (resource.privacy_scan or {}).get("status") != "done":
            raise RuntimeError(f"the personal-data scan did not pass: {resource.privacy_scan}")
        workflow.publish(actor, dataset)
        resource_id = resource.id
        db.session.remove()
        db.engine.dispose()
    return resource_id


def measure_load(portal: Portal, resource_id: str) -> LoadResult:
    """Run the real loader on the resource in a child process; its time, rows and memory."""
    answer = subprocess.run(
        [sys.executable, "-m", "bench.datastore.loading", resource_id],
        env={**os.environ, **portal.env()}, cwd=REPO, capture_output=True, text=True, timeout=3600,
    )
    if answer.returncode != 0:
        raise RuntimeError(f"the load failed:\n{answer.stderr[-3000:]}")
    data = json.loads(answer.stdout.strip().splitlines()[-1])
    return LoadResult(portal.backend, data["rows"], data["seconds"], data["rss_before_kb"] / 1024,
                      data["hwm_kb"] / 1024, data["status"], data["queryable_seconds"])


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _child(resource_id: str) -> None:
    from opendata.datastore.ingest import load_table
    from opendata.datastore.sql import quote

    app = create_app()
    with app.app_context():
        rss_before = _status_kb("VmRSS")
        started = time.perf_counter()
        table = load_table(resource_id)
        seconds = time.perf_counter() - started
        hwm = _status_kb("VmHWM")
        if table.status != "done":
            raise SystemExit(f"load ended {table.status}: {json.dumps(table.report, ensure_ascii=False)[:2000]}")
        counted = db.session.execute(text(f"SELECT count(*) FROM {quote(table.table_name)}")).scalar()
        if counted != table.rows:
            raise SystemExit(f"the table holds {counted} rows, the load says {table.rows}")
        print(json.dumps({"rows": table.rows, "seconds": seconds, "rss_before_kb": rss_before, "hwm_kb": hwm,
                          "status": table.status, "errors": table.report["stats"]["errors"],
                          "queryable_seconds": table.report["stats"]["seconds"]}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Load one resource (the child process of bench.datastore).")
    parser.add_argument("resource_id")
    _child(parser.parse_args().resource_id)
