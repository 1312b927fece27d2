"""The publication workflow: draft → pending (submitted) → published, and back.

    submit    draft, withdrawn  → pending     editors and admins (editors need a classification)
    approve   pending           → published   agency admins, only through the gate
    reject    pending           → draft       agency admins, with a comment
    publish   draft, pending,   → published   admins, or editors where the agency lets them;
              withdrawn                       only through the gate
    withdraw  published         → withdrawn   agency admins
    delete    any               → trash       agency admins (soft: ``deleted_at``)
    restore   trash             → as it was   agency admins
              withdrawn         → published   agency admins, through the gate
    purge     trash             → gone        sysadmins; removes the files

``authz`` decides who may take each step; this module decides whether the dataset's
state allows it (``Conflict``, HTTP 409, with the reason) and whether the
non-sensitive gate (``privacy.gate``) lets it out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opendata import authz
from opendata.accounts.models import User
from opendata.activity.recorder import record
from opendata.authz import Action
from opendata.catalog.document import refresh_document
from opendata.catalog.models import Dataset, DatasetState, utcnow
from opendata.catalog.services import dump_dataset, file_store
from opendata.errors import Conflict, ValidationFailed
from opendata.extensions import db
from opendata.datastore import ingest
from opendata.privacy import gate
from opendata.text import nfc

log = logging.getLogger(__name__)
D, P, PUB, W = DatasetState.DRAFT, DatasetState.PENDING, DatasetState.PUBLISHED, DatasetState.WITHDRAWN
MIN_REASON = 10


@dataclass(frozen=True)
class Transition:
    name: str
    action: Action
    sources: frozenset[str]
    target: str | None  # None: decided by the step itself (restore)
    label: str


TRANSITIONS: dict[str, Transition] = {t.name: t for t in (
    Transition("submit", Action.DATASET_SUBMIT, frozenset({D, W}), P, "Gửi duyệt"),
    Transition("approve", Action.DATASET_APPROVE, frozenset({P}), PUB, "Duyệt và công bố"),
    Transition("reject", Action.DATASET_APPROVE, frozenset({P}), D, "Trả lại"),
    Transition("publish", Action.DATASET_PUBLISH, frozenset({D, P, W}), PUB, "Công bố"),
    Transition("withdraw", Action.DATASET_WITHDRAW, frozenset({PUB}), W, "Ngừng công bố"),
    Transition("delete", Action.DATASET_DELETE, frozenset({D, P, PUB, W}), None, "Xóa (chuyển vào thùng rác)"),
    Transition("restore", Action.DATASET_RESTORE, frozenset({W}), None, "Khôi phục"),
    Transition("purge", Action.DATASET_PURGE, frozenset(), None, "Xóa vĩnh viễn"),
)}
STATE_LABELS = {D: "Bản nháp", P: "Chờ duyệt", PUB: "Đã công bố", W: "Ngừng công bố", "deleted": "Thùng rác"}


def state_of(dataset: Dataset) -> str:
    """The state as people see it: the trash is a state of its own."""
    return "deleted" if dataset.deleted_at is not None else dataset.state


def allowed_in_state(transition: Transition, dataset: Dataset) -> bool:
    if dataset.deleted_at is not None:
        return transition.name in {"restore", "purge"}
    return dataset.state in transition.sources


def available(actor: User | None, dataset: Dataset) -> list[Transition]:
    """The steps ``actor`` may take on ``dataset`` now (the buttons a page shows).

    A submitted dataset shows "approve" rather than both approve and publish, which do the same.
    """
    steps = [t for t in TRANSITIONS.values() if allowed_in_state(t, dataset) and authz.can(actor, t.action, dataset)]
    if any(t.name == "approve" for t in steps):
        steps = [t for t in steps if t.name != "publish"]
    return steps


def _check(actor: User, name: str, dataset: Dataset) -> Transition:
    transition = TRANSITIONS[name]
    authz.require(actor, transition.action, dataset)
    if not allowed_in_state(transition, dataset):
        raise Conflict(f"Không thể «{transition.label.lower()}» bộ dữ liệu đang ở trạng thái "
                       f"«{STATE_LABELS[state_of(dataset)]}».")
    return transition


def _through_gate(dataset: Dataset) -> None:
    blockers = gate.blockers(dataset)
    if blockers:
        raise Conflict("Chưa thể công bố: " + " ".join(b.message for b in blockers),
                       fields={"blockers": [b.message for b in blockers]})


def _move(actor: User, dataset: Dataset, verb: str, target: str, **details: str) -> Dataset:
    before = state_of(dataset)
    dataset.state = target
    if target == PUB:
        dataset.published_at = dataset.published_at or utcnow()
    dataset.updated_at = utcnow()
    refresh_document(dataset)
    record(actor, f"dataset:{verb}", dataset, agency_id=dataset.agency_id,
           before={"state": before}, after={"state": state_of(dataset), **details})
    db.session.commit()
    log.info("dataset %s: %s by %s", dataset.id, verb, actor.id)
    return dataset


def submit(actor: User, dataset: Dataset) -> Dataset:
    """Send a draft for review. The publisher must have classified it as open data."""
    _check(actor, "submit", dataset)
    problems = gate.classification_problems(dataset)
    if problems:
        raise Conflict("Cần phân loại bộ dữ liệu là «Dữ liệu mở» theo Luật Dữ liệu trước khi gửi duyệt.",
                       fields=problems)
    return _move(actor, dataset, "submit", P)


def approve(actor: User, dataset: Dataset) -> Dataset:
    _check(actor, "approve", dataset)
    _through_gate(dataset)
    return _move(actor, dataset, "approve", PUB)


def reject(actor: User, dataset: Dataset, comment: str) -> Dataset:
    """Send a submitted dataset back to its editors with a comment saying why."""
    _check(actor, "reject", dataset)
    comment = nfc((comment or "").strip())
    if len(comment) < MIN_REASON:
        raise ValidationFailed(fields={"comment": [f"Cần ghi rõ lý do trả lại (ít nhất {MIN_REASON} ký tự)."]})
    return _move(actor, dataset, "reject", D, comment=comment)


def publish(actor: User, dataset: Dataset) -> Dataset:
    """Publish without a review step (admins; editors where their agency allows it)."""
    if dataset.state == PUB and dataset.deleted_at is None:
        authz.require(actor, Action.DATASET_PUBLISH, dataset)
        return dataset
    _check(actor, "publish", dataset)
    _through_gate(dataset)
    return _move(actor, dataset, "publish", PUB)


def withdraw(actor: User, dataset: Dataset, comment: str = "") -> Dataset:
    _check(actor, "withdraw", dataset)
    details = {"comment": nfc(comment.strip())} if comment and comment.strip() else {}
    return _move(actor, dataset, "withdraw", W, **details)


def delete(actor: User, dataset: Dataset) -> Dataset:
    """Move a dataset to the trash; its files stay until a sysadmin purges it."""
    _check(actor, "delete", dataset)
    before = state_of(dataset)
    dataset.deleted_at = utcnow()
    refresh_document(dataset)
    record(actor, "dataset:delete", dataset, agency_id=dataset.agency_id,
           before={"state": before}, after={"state": "deleted"})
    db.session.commit()
    return dataset


def restore(actor: User, dataset: Dataset) -> Dataset:
    """Take a dataset out of the trash, or publish a withdrawn one again (through the gate)."""
    _check(actor, "restore", dataset)
    if dataset.deleted_at is not None:
        dataset.deleted_at = None
        refresh_document(dataset)
        record(actor, "dataset:restore", dataset, agency_id=dataset.agency_id,
               before={"state": "deleted"}, after={"state": dataset.state})
        db.session.commit()
        return dataset
    _through_gate(dataset)
    return _move(actor, dataset, "restore", PUB)


def purge(actor: User, dataset: Dataset) -> None:
    """Remove a dataset in the trash for good, with its files. Sysadmins only."""
    authz.require(actor, Action.DATASET_PURGE, dataset)
    if dataset.deleted_at is None:
        raise Conflict("Chỉ xóa vĩnh viễn được bộ dữ liệu đã ở trong thùng rác.")
    keys = [resource.storage_key for resource in dataset.resources if resource.storage_key]
    record(actor, "dataset:purge", dataset, agency_id=dataset.agency_id,
           before={**dump_dataset(dataset), "resources": [r.filename or r.url for r in dataset.resources]})
    tables = [name for resource in dataset.resources for name in ingest.release(resource)]
    db.session.delete(dataset)
    db.session.commit()
    ingest.discard(tables)
    store = file_store()
    for key in keys:
        store.delete(key)
    log.info("dataset %s purged by %s", dataset.id, actor.id)


def override_privacy(actor: User, dataset: Dataset, reason: str) -> Dataset:
    """Accept the personal-data findings of the dataset's current files, with a written reason.

    The override names each file by its checksum: replacing a file voids it for that file.
    """
    authz.require(actor, Action.PRIVACY_OVERRIDE, dataset)
    reason = nfc((reason or "").strip())
    if len(reason) < MIN_REASON:
        raise ValidationFailed(fields={"reason": [f"Cần ghi rõ lý do (ít nhất {MIN_REASON} ký tự)."]})
    entries = gate.override_entries(dataset)
    if not entries:
        raise Conflict("Không có phát hiện nào cần xác nhận (hoặc tệp vẫn đang được quét).")
    previous = dataset.privacy_override or {}
    # Earlier acceptances keep covering the files they were given for, while those files are unchanged.
    accepted = previous.get("resources", {})
    still_valid = {resource.id: accepted[resource.id] for resource in dataset.resources
                   if accepted.get(resource.id) == (resource.sha256 or resource.url)}
    earlier = previous.get("earlier", [])
    if previous:
        earlier = [*earlier, {key: value for key, value in previous.items() if key != "earlier"}]
    dataset.privacy_override = {"reason": reason, "by": actor.id, "by_name": actor.display_name,
                                "at": utcnow().isoformat(timespec="seconds"),
                                "resources": {**still_valid, **entries}, "earlier": earlier}
    refresh_document(dataset)  # the accepted files are no longer held back
    findings = {resource.name: gate.finding_kinds(resource) for resource in dataset.resources
                if resource.id in entries}
    record(actor, "dataset:privacy_override", dataset, agency_id=dataset.agency_id,
           before={"privacy_override": previous or None}, after={"reason": reason, "files": findings})
    db.session.commit()
    return dataset
