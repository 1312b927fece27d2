"""The non-sensitive gate: no dataset is published with personal data in its tables.

Every tabular file is scanned (``scanner.scan_file``) when it is uploaded or replaced:
small files during the upload, large ones in the background (``tasks``), so no
request waits for a scan. The scan is tied to the file's SHA-256: a replaced file
is scanned again, and an admin's override covers exactly the files it was given for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from opendata.catalog.models import Dataset, Resource, utcnow
from opendata.extensions import db
from opendata.privacy.scanner import ScanReport, scan_file
from opendata.storage.files import file_store
from opendata.tasks import enqueue, job

log = logging.getLogger(__name__)

TABULAR_FORMATS = frozenset({"CSV", "TSV", "XLSX"})  # files with columns: a data dictionary
SCANNED_FORMATS = frozenset({"CSV", "TSV", "TXT", "XLSX"})  # what the scanner reads
# Tables and archives the scanner cannot read (yet): an agency admin must look and decide.
UNSCANNABLE_FORMATS = frozenset({"XLS", "ODS", "ZIP"})
LINKED_TABLE_FORMATS = TABULAR_FORMATS | UNSCANNABLE_FORMATS
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
# Only these classifications of the Law on Data (60/2024/QH15) may be published.
PUBLISHABLE_ACCESS = "open"


@dataclass(frozen=True)
class Blocker:
    """Why a dataset cannot be published yet; ``resource_id`` when it is about one file."""

    code: str
    message: str
    resource_id: str | None = None
    overridable: bool = False


def content_format(resource: Resource) -> str:
    """What the file is: for an upload, the format sniffed from its bytes, which nobody can edit."""
    sniffed = (resource.extras or {}).get("sniffed_format") if resource.is_upload else None
    return (sniffed or resource.format or "").upper()


def is_tabular(resource: Resource) -> bool:
    return content_format(resource) in TABULAR_FORMATS


def needs_scan(resource: Resource) -> bool:
    return resource.is_upload and content_format(resource) in SCANNED_FORMATS


def start_scan(resource: Resource) -> None:
    """Mark a just-committed upload of text or a table as waiting for its scan, and run or queue it."""
    if not needs_scan(resource):
        return
    resource.privacy_scan = {"status": PENDING, "sha256": resource.sha256,
                             "queued_at": utcnow().isoformat(timespec="seconds")}
    _refresh(resource)
    db.session.commit()
    if (resource.size or 0) <= current_app.config["SCAN_INLINE_MAX"]:
        run_scan(resource.id, resource.sha256)
    else:
        enqueue("privacy_scan", resource_id=resource.id, sha256=resource.sha256)


@job("privacy_scan")
def run_scan(resource_id: str, sha256: str) -> None:
    """Scan one file and store the report; a stale job (the file was replaced) does nothing."""
    resource = db.session.get(Resource, resource_id)
    if resource is None or resource.sha256 != sha256 or not resource.storage_key:
        return
    resource.privacy_scan = {"status": RUNNING, "sha256": sha256}
    db.session.commit()
    try:
        fmt = content_format(resource)
        # Plain text is read as a one-column table: a list of ID numbers is still personal data.
        report = scan_file(file_store().path(resource.storage_key), "CSV" if fmt == "TXT" else fmt,
                           resource.encoding)
        status = FAILED if report.error else DONE
        result = {"status": status, "sha256": sha256, "report": report.to_dict()}
    except Exception:  # noqa: BLE001 - a scan that crashes must block publication, not vanish
        log.exception("privacy scan of resource %s failed", resource_id)
        result = {"status": FAILED, "sha256": sha256, "report": None}
    db.session.refresh(resource)
    if resource.sha256 == sha256:
        resource.privacy_scan = result
        _refresh(resource)
        db.session.commit()


def _stale(resource: Resource, older_than: timedelta) -> bool:
    scan = resource.privacy_scan or {}
    if scan.get("sha256") != resource.sha256 or not scan.get("status"):
        return True  # never scanned: uploaded before the gate existed, or the file changed
    if scan["status"] in (PENDING, RUNNING):
        queued = scan.get("queued_at")
        return queued is None or datetime.fromisoformat(queued) < utcnow() - older_than
    return False


def rescan(older_than: timedelta = timedelta(minutes=30)) -> int:
    """Scan again every upload whose scan is missing, outdated, or stuck (a worker that died).

    Run by ``opendata privacy rescan`` (and by ``make serve``): without it, files uploaded
    before an upgrade, or whose job was lost, would stay blocked. Returns how many.
    """
    candidates = db.session.scalars(select(Resource).where(Resource.storage_key.is_not(None)))
    stale = [resource for resource in candidates if needs_scan(resource) and _stale(resource, older_than)]
    for resource in stale:
        start_scan(resource)
    return len(stale)


def _refresh(resource: Resource) -> None:
    """The dataset's stored document says which files are held back: rebuild it with the scan."""
    from opendata.catalog.document import refresh_document  # the document asks the gate in turn

    refresh_document(resource.dataset)


def report_of(resource: Resource) -> ScanReport | None:
    scan = resource.privacy_scan or {}
    return ScanReport.from_dict(scan["report"]) if scan.get("report") else None


def finding_kinds(resource: Resource) -> list[str]:
    """The kinds of personal data found in a file (values and suggestive headers), for the record."""
    report = report_of(resource)
    kinds: set[str] = set()
    for column in report.to_dict()["columns"] if report else []:
        kinds.update(finding["kind"] for finding in column["findings"])
        if column.get("header_kind"):
            kinds.add(column["header_kind"])
    return sorted(kinds)


def _covered(dataset: Dataset, resource: Resource) -> bool:
    override = dataset.privacy_override or {}
    return override.get("resources", {}).get(resource.id) == (resource.sha256 or resource.url)


def resource_blocker(dataset: Dataset, resource: Resource) -> Blocker | None:
    """What in this resource stops publication, if anything."""
    name, fmt = resource.name, content_format(resource)
    if not resource.is_upload:
        if fmt not in LINKED_TABLE_FORMATS or _covered(dataset, resource):
            return None
        return Blocker("not_scanned", f"Tệp «{name}» là đường dẫn ra ngoài cổng nên không quét được dữ liệu "
                       "cá nhân; cần quản trị viên của cơ quan xác nhận.", resource.id, overridable=True)
    if fmt in UNSCANNABLE_FORMATS:
        if _covered(dataset, resource):
            return None
        return Blocker("not_scannable", f"Cổng chưa đọc được tệp {fmt} «{name}» để quét dữ liệu cá nhân; cần "
                       "quản trị viên của cơ quan kiểm tra và xác nhận.", resource.id, overridable=True)
    if fmt not in SCANNED_FORMATS:
        return None
    scan = resource.privacy_scan or {}
    if scan.get("sha256") != resource.sha256 or scan.get("status") in (None, PENDING, RUNNING):
        return Blocker("scan_pending", f"Tệp «{name}» đang được quét dữ liệu cá nhân, vui lòng đợi.", resource.id)
    if _covered(dataset, resource):
        return None
    if scan["status"] == FAILED:
        return Blocker("scan_failed", f"Không đọc được tệp «{name}» để quét dữ liệu cá nhân; cần quản trị "
                       "viên của cơ quan xác nhận.", resource.id, overridable=True)
    report = report_of(resource)
    if report is not None and report.has_findings:
        return Blocker("personal_data", f"Tệp «{name}» có thể chứa dữ liệu cá nhân (xem báo cáo quét).",
                       resource.id, overridable=True)
    return None


def classification_problems(dataset: Dataset) -> dict[str, list[str]]:
    """Per field, why the Law on Data classification does not allow publication; empty when it does."""
    extras = dataset.extras or {}
    labels = {"access_level": "Phân loại theo chia sẻ", "importance": "Phân loại theo mức độ quan trọng"}
    problems = {name: [f"Chưa chọn «{label}» (Luật Dữ liệu 60/2024/QH15)."] for name, label in labels.items()
                if not extras.get(name)}
    if extras.get("access_level") and extras["access_level"] != PUBLISHABLE_ACCESS:
        problems["access_level"] = ["Chỉ dữ liệu được phân loại là «Dữ liệu mở» mới được công bố "
                                    "(Luật Dữ liệu 60/2024/QH15)."]
    return problems


def blockers(dataset: Dataset) -> list[Blocker]:
    """Everything that stops ``dataset`` from being published; empty when it may be."""
    found = [Blocker("classification", message) for messages in classification_problems(dataset).values()
             for message in messages]
    for resource in dataset.resources:
        blocker = resource_blocker(dataset, resource)
        if blocker is not None:
            found.append(blocker)
    return found


def override_entries(dataset: Dataset) -> dict[str, str]:
    """The files an override would cover now: those whose findings an admin may accept."""
    return {resource.id: resource.sha256 or resource.url for resource in dataset.resources
            if (blocker := resource_blocker(dataset, resource)) is not None and blocker.overridable}
