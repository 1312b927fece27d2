"""Read the activity table: a dataset's history, an agency's stream, the audit log.

Each query returns a ``Page`` of ``Entry`` objects, newest first, with the actor
loaded, a Vietnamese sentence (``describe``) and the field-level changes
(``activity.diff``). Who may read what is decided before: the views call
``authz`` (a dataset the reader may see; an agency's members; sysadmins).

Times are stored in UTC; entries carry them in Vietnam time (UTC+7, no daylight
saving), and the audit log's date filter counts days in Vietnam time as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from opendata.clock import VIETNAM
from opendata.accounts.models import User
from opendata.accounts.services import ROLE_LABELS
from opendata.activity.diff import Change, field_diff
from opendata.activity.models import Activity
from opendata.catalog.models import Agency, Dataset
from opendata.extensions import db
from opendata.privacy.scanner import KIND_LABELS

PER_PAGE = 30
# The verb groups the audit log filters on (a prefix), with their labels.
VERB_GROUPS = {
    "dataset:": "Bộ dữ liệu",
    "resource:": "Tệp và liên kết",
    "agency:": "Cơ quan",
    "membership:": "Thành viên",
    "invitation:": "Lời mời",
    "user:": "Tài khoản",
    "token:": "Khóa API",
}
STATE_VERBS = frozenset({"submit", "approve", "reject", "publish", "withdraw", "delete", "restore"})


@dataclass
class Entry:
    """One activity as a page shows it."""

    activity: Activity
    sentence: str
    when: datetime  # Vietnam time, naive
    changes: list[Change] = field(default_factory=list)
    created: bool = False  # the changes are a new object's first values (shown folded)
    dataset_name: str | None = None  # the dataset to link to, if it still exists
    findings: list[tuple[str, list[str]]] = field(default_factory=list)  # a privacy override's files


@dataclass
class Page:
    items: list[Entry]
    total: int
    page: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class AuditFilters:
    verb: str = ""  # a group prefix ("dataset:") or one verb ("dataset:publish")
    actor: str = ""  # part of a user name or full name
    agency: str = ""  # an agency's URL name
    object: str = ""  # an object id, or a dataset, agency or user name
    date_from: date | None = None  # inclusive, Vietnam time
    date_to: date | None = None  # inclusive, Vietnam time

    @property
    def active(self) -> bool:
        return any((self.verb, self.actor, self.agency, self.object, self.date_from, self.date_to))


def _dataset_id_in_data() -> Any:
    """The ``dataset_id`` that resource activities carry (after, or before for a deletion)."""
    return func.coalesce(Activity.data[("after", "dataset_id")].as_string(),
                         Activity.data[("before", "dataset_id")].as_string())


def _of_datasets(ids: Select | list[str]) -> Any:
    """Activities of these datasets and of their files."""
    return or_((Activity.object_type == "dataset") & Activity.object_id.in_(ids),
               (Activity.object_type == "resource") & _dataset_id_in_data().in_(ids))


def dataset_history(dataset: Dataset, page: int = 1) -> Page:
    """Changes to the dataset's metadata, state and files, newest first."""
    query = select(Activity).where(_of_datasets([dataset.id]))
    return _page(query, page, here=dataset.id)


def agency_stream(agency: Agency, page: int = 1) -> Page:
    """Everything recorded for the agency: its datasets, files, members and invitations."""
    return _page(select(Activity).where(Activity.agency_id == agency.id), page)


def audit_log(filters: AuditFilters, page: int = 1) -> Page:
    """Every activity of the portal matching the filters. The caller must be a sysadmin."""
    query = select(Activity)
    if filters.verb:
        if filters.verb.endswith(":"):
            query = query.where(Activity.verb.startswith(filters.verb, autoescape=True))
        else:
            query = query.where(Activity.verb == filters.verb)
    if filters.actor:
        pattern = f"%{filters.actor.strip().lower()}%"
        actors = select(User.id).where(func.lower(User.name).like(pattern) | func.lower(User.fullname).like(pattern))
        query = query.where(Activity.actor_id.in_(actors))
    if filters.agency:
        query = query.where(Activity.agency_id.in_(select(Agency.id).where(Agency.name == filters.agency)))
    if filters.object:
        value = filters.object.strip()
        datasets = select(Dataset.id).where(Dataset.name == value)
        query = query.where(or_(
            Activity.object_id == value,
            _of_datasets(datasets),
            (Activity.object_type == "resource") & (_dataset_id_in_data() == value),
            (Activity.object_type == "agency") & Activity.object_id.in_(select(Agency.id).where(Agency.name == value)),
            (Activity.object_type == "user") & Activity.object_id.in_(select(User.id).where(User.name == value)),
        ))
    if filters.date_from:
        query = query.where(Activity.created_at >= _utc_start_of(filters.date_from))
    if filters.date_to:
        query = query.where(Activity.created_at < _utc_start_of(filters.date_to + timedelta(days=1)))
    return _page(query, page)


def agency_choices() -> list[Agency]:
    """Every agency, by title: the audit log's filter and the names of its entries' agencies."""
    return list(db.session.scalars(select(Agency).order_by(Agency.title)))


def _utc_start_of(day: date) -> datetime:
    """Midnight of ``day`` in Vietnam, as the naive UTC time the table stores."""
    return datetime.combine(day, time(), VIETNAM).astimezone(timezone.utc).replace(tzinfo=None)


def _page(query: Select, page: int, here: str | None = None) -> Page:
    page = max(1, page)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    activities = list(db.session.scalars(
        query.options(selectinload(Activity.actor))
        .order_by(Activity.created_at.desc(), Activity.id.desc())
        .offset((page - 1) * PER_PAGE).limit(PER_PAGE)))
    datasets = _datasets_of(activities)
    people = _people_of(activities)
    entries = [_entry(activity, datasets, people, here) for activity in activities]
    return Page(entries, total, page)


def _people_of(activities: list[Activity]) -> dict[str, str]:
    """Display names of the users that memberships and tokens name (recorded by account name)."""
    names = {side.get("user") for activity in activities for side in _sides(activity) if side.get("user")}
    if not names:
        return {}
    return {user.name: user.display_name for user in db.session.scalars(select(User).where(User.name.in_(names)))}


def _sides(activity: Activity) -> tuple[dict, dict]:
    data = activity.data or {}
    return data.get("before") or {}, data.get("after") or {}


def _dataset_id_of(activity: Activity) -> str | None:
    if activity.object_type == "dataset":
        return activity.object_id
    if activity.object_type == "resource":
        data = activity.data or {}
        return (data.get("after") or {}).get("dataset_id") or (data.get("before") or {}).get("dataset_id")
    return None


def _datasets_of(activities: list[Activity]) -> dict[str, tuple[str, str]]:
    """(name, title) now of the datasets the activities are about, in one query."""
    ids = {dataset_id for activity in activities if (dataset_id := _dataset_id_of(activity))}
    if not ids:
        return {}
    rows = db.session.execute(select(Dataset.id, Dataset.name, Dataset.title).where(Dataset.id.in_(ids)))
    return {row.id: (row.name, row.title) for row in rows}


def _entry(activity: Activity, datasets: dict[str, tuple[str, str]], people: dict[str, str],
           here: str | None) -> Entry:
    dataset_id = _dataset_id_of(activity)
    name, title = datasets.get(dataset_id, (None, None)) if dataset_id else (None, None)
    data = activity.data or {}
    # On the dataset's own page the sentence need not name it again.
    subject = None if dataset_id is not None and dataset_id == here else (title or _recorded_title(activity))
    entry = Entry(activity, describe(activity, subject, people), activity.created_at, dataset_name=name)
    verb = activity.verb.partition(":")[2]
    if activity.verb in {"dataset:update", "resource:update", "resource:replace"}:
        entry.changes = field_diff(data.get("before"), data.get("after"), activity.object_type)
    elif activity.verb in {"dataset:create", "resource:create"}:
        entry.changes = field_diff(None, data.get("after"), activity.object_type)
        entry.created = True
    elif activity.verb == "dataset:privacy_override":
        entry.findings = override_findings(activity)
    elif activity.object_type == "dataset" and verb in STATE_VERBS:
        entry.changes = field_diff({"state": _state(data, "before")}, {"state": _state(data, "after")})
    return entry


def _state(data: dict, side: str) -> Any:
    return (data.get(side) or {}).get("state")


def _recorded_title(activity: Activity) -> str | None:
    """The dataset's title as recorded (a purged dataset), or its name then (a file's dataset)."""
    data = activity.data or {}
    before, after = data.get("before") or {}, data.get("after") or {}
    if activity.object_type == "dataset":
        return after.get("title") or before.get("title")
    if activity.object_type == "resource":
        return after.get("dataset") or before.get("dataset")
    return None


# --- sentences ------------------------------------------------------------------------------

def _actor_name(activity: Activity) -> str:
    actor = activity.actor
    if actor is None:
        return "Một tài khoản đã xóa" if activity.actor_id else "Hệ thống"
    return actor.display_name


def _quote(text: Any) -> str:
    return f"«{text}»" if text else ""


def _role(value: str | None) -> str:
    return ROLE_LABELS.get(value, value or "?").lower()


def _dataset_phrase(subject: str | None) -> str:
    return f"bộ dữ liệu {_quote(subject)}" if subject else "bộ dữ liệu"


def _with_reason(sentence: str, text: str | None) -> str:
    return f"{sentence}: {text}" if text else f"{sentence}."


def describe(activity: Activity, subject: str | None = None, people: dict[str, str] | None = None) -> str:
    """A Vietnamese sentence saying who did what, e.g. "Nguyễn Văn A đã gửi duyệt bộ dữ liệu «…»."

    ``subject`` is the title of the dataset (for dataset and file activities) to name
    in the sentence; without it the sentence says only "bộ dữ liệu". ``people`` maps
    the account names that memberships and tokens record to the names people know.
    """
    who = _actor_name(activity)
    before, after = _sides(activity)
    people = people or {}
    verb = activity.verb
    dataset = _dataset_phrase(subject)
    role_before, role_after = _role(before.get("role")), _role(after.get("role"))
    in_dataset = f" của bộ dữ liệu {_quote(subject)}" if subject else ""
    file_name = after.get("filename") or after.get("name") or before.get("filename") or before.get("name")
    person = after.get("user") or before.get("user")
    person = people.get(person, person)
    simple = {
        "dataset:create": f"{who} đã tạo {dataset}.",
        "dataset:update": f"{who} đã sửa thông tin {dataset}.",
        "dataset:submit": f"{who} đã gửi duyệt {dataset}.",
        "dataset:approve": f"{who} đã duyệt và công bố {dataset}.",
        "dataset:publish": f"{who} đã công bố {dataset}.",
        "dataset:delete": f"{who} đã chuyển {dataset} vào thùng rác.",
        "dataset:reorder": f"{who} đã sắp xếp lại thứ tự các tệp{in_dataset}.",
        "agency:create": f"{who} đã tạo cơ quan {_quote(after.get('title'))}.",
        "agency:update": f"{who} đã sửa thông tin cơ quan {_quote(after.get('title') or before.get('title'))}.",
        "resource:update": f"{who} đã sửa thông tin tệp {_quote(after.get('name'))}{in_dataset}.",
        "resource:delete": f"{who} đã xóa tệp {_quote(before.get('name'))}{in_dataset}.",
        "membership:create": f"{who} đã thêm {person} vào cơ quan với vai trò {role_after}.",
        "membership:update": f"{who} đã đổi vai trò của {person} từ {role_before} sang {role_after}.",
        "membership:delete": f"{who} đã đưa {person} ra khỏi cơ quan.",
        "invitation:create": f"{who} đã mời {after.get('email')} tham gia cơ quan với vai trò {role_after}.",
        "invitation:accept": f"{who} đã nhận lời mời tham gia cơ quan với vai trò {role_after}.",
        "token:create": f"{who} đã tạo khóa API {_quote(after.get('name'))} cho {person}.",
        "token:revoke": f"{who} đã thu hồi khóa API {_quote(after.get('name'))} của {person}.",
        "user:create": f"{who} đã tạo tài khoản {_quote(after.get('name'))}.",
        "user:password_reset": f"{who} đã đặt lại mật khẩu.",
    }
    if verb in simple:
        return simple[verb]
    if verb == "dataset:reject":
        return _with_reason(f"{who} đã trả lại {dataset} để sửa", after.get("comment"))
    if verb == "dataset:withdraw":
        return _with_reason(f"{who} đã ngừng công bố {dataset}", after.get("comment"))
    if verb == "dataset:restore":
        if before.get("state") == "deleted":
            return f"{who} đã khôi phục {dataset} từ thùng rác."
        return f"{who} đã công bố lại {dataset}."
    if verb == "dataset:purge":
        files = len(before.get("resources") or [])
        title = subject or before.get("title")
        return f"{who} đã xóa vĩnh viễn bộ dữ liệu {_quote(title)} cùng {files} tệp."
    if verb == "dataset:privacy_override":
        sentence = f"{who} đã xác nhận công bố {dataset} dù có dữ liệu cá nhân"
        return _with_reason(sentence, after.get("reason"))
    if verb == "resource:create":
        if after.get("url") and not after.get("sha256"):
            return f"{who} đã thêm liên kết {_quote(after.get('name'))}{in_dataset}."
        return f"{who} đã tải lên tệp {_quote(file_name)}{in_dataset}."
    if verb == "resource:replace":
        old, new = before.get("filename") or before.get("name"), after.get("filename") or after.get("name")
        if old and new and old != new:
            return f"{who} đã thay tệp {_quote(old)} bằng tệp {_quote(new)}{in_dataset}."
        return f"{who} đã thay tệp {_quote(new)} bằng phiên bản mới{in_dataset}."
    if verb == "invitation:revoke":
        return _with_reason(f"{who} đã hủy lời mời gửi {after.get('email')}", after.get("reason"))
    if verb == "user:update" and "active" in after:
        return f"{who} đã {'mở khóa' if after['active'] else 'khóa'} một tài khoản."
    return f"{who}: {verb}."


def override_findings(activity: Activity) -> list[tuple[str, list[str]]]:
    """The files and kinds of personal data a privacy override accepted, for people."""
    files = ((activity.data or {}).get("after") or {}).get("files") or {}
    return [(name, [KIND_LABELS.get(kind, kind) for kind in kinds]) for name, kinds in files.items()]
