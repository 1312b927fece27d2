"""History pages: a dataset's changes, an agency's activity stream, the audit log; and the
audit trail's immutability."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DatabaseError

from opendata.activity.models import Activity
from opendata.catalog import resources, services, workflow
from opendata.extensions import db
from tests.factories import make_agency, make_dataset, make_file_resource, make_user
from tests.forms import sign_in


class _Marks(HTMLParser):
    """The text of each <ins> and <del> of a page, without the screen-reader prefixes."""

    def __init__(self):
        super().__init__()
        self.ins: list[str] = []
        self.dels: list[str] = []
        self._open: list[str] = []  # "ins", "del" or "skip", innermost last
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("ins", "del"):
            self._open.append(tag)
            self._text = []
        elif self._open and ("class", "visually-hidden") in attrs:
            self._open.append("skip")

    def handle_endtag(self, tag):
        if not self._open:
            return
        if self._open[-1] == "skip" and tag == "span":
            self._open.pop()
        elif tag in ("ins", "del") and self._open[-1] == tag:
            self._open.pop()
            (self.ins if tag == "ins" else self.dels).append("".join(self._text).strip())

    def handle_data(self, data):
        if self._open and self._open[-1] != "skip":
            self._text.append(data)


def marks(html: str) -> _Marks:
    parser = _Marks()
    parser.feed(html)
    return parser


@pytest.fixture
def agency(system):
    return make_agency(system, name="so-giao-duc", title="Sở Giáo dục và Đào tạo")


@pytest.fixture
def other_agency(system):
    return make_agency(system, name="so-y-te", title="Sở Y tế")


@pytest.fixture
def admin(system, agency):
    return make_user(system, agency, "admin", name="quan-tri", fullname="Trần Thị Quản Trị")


@pytest.fixture
def editor(system, agency):
    return make_user(system, agency, "editor", name="bien-tap", fullname="Nguyễn Văn Biên Tập")


@pytest.fixture
def outsider(system, other_agency):
    return make_user(system, other_agency, "admin", name="nguoi-ngoai", fullname="Lê Văn Ngoài")


@pytest.fixture
def sysadmin(system):
    user = make_user(system, name="quan-tri-cong", fullname="Quản trị cổng")
    user.is_sysadmin = True
    db.session.commit()
    return user


@pytest.fixture
def draft(editor, agency):
    return make_dataset(editor, agency, published=False, title="Danh sách trường học", tags=["giáo dục"],
                        access_level="open", importance="other")


def test_history_shows_each_changed_field(client, editor, draft):
    services.update_dataset(editor, draft, {"title": "Danh sách trường học Đà Lạt", "tags": ["giáo dục", "mầm non"]},
                            partial=True)
    sign_in(client, editor)
    response = client.get(f"/dataset/activity/{draft.name}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Nguyễn Văn Biên Tập đã sửa thông tin bộ dữ liệu." in html
    assert "Nguyễn Văn Biên Tập đã tạo bộ dữ liệu." in html
    found = marks(html)
    assert "Danh sách trường học" in found.dels and "Danh sách trường học Đà Lạt" in found.ins
    assert "mầm non" in found.ins and "giáo dục" not in found.ins + found.dels  # kept tags are not a change
    assert response.headers["Cache-Control"] == "private, no-store"


def test_history_shows_state_changes_with_comments(client, editor, admin, draft):
    workflow.submit(editor, draft)
    workflow.reject(admin, draft, "Cần bổ sung nguồn dữ liệu.")
    workflow.submit(editor, draft)
    workflow.approve(admin, draft)
    html = client.get(f"/dataset/activity/{draft.name}").get_data(as_text=True)  # published: anyone may read
    assert "Trần Thị Quản Trị đã duyệt và công bố bộ dữ liệu." in html
    assert "Trần Thị Quản Trị đã trả lại bộ dữ liệu để sửa: Cần bổ sung nguồn dữ liệu." in html
    assert html.count("Nguyễn Văn Biên Tập đã gửi duyệt bộ dữ liệu.") == 2
    # Newest first, each with the state before struck and the state after highlighted.
    assert html.index("đã duyệt và công bố") < html.index("đã trả lại")
    found = marks(html)
    assert ("Chờ duyệt", "Đã công bố") in zip(found.dels, found.ins)
    assert ("Bản nháp", "Chờ duyệt") in zip(found.dels, found.ins)


def test_history_shows_uploads_and_file_changes(client, system, editor, agency):
    dataset = make_dataset(system, agency, title="Điểm trường")
    resource = make_file_resource(editor, dataset, b"ma,ten\n1,A\n", filename="diem-truong.csv")
    resources.update_resource(editor, dataset, resource, {"name": "Điểm trường 2025"})
    other = make_dataset(system, agency, title="Bộ khác")
    make_file_resource(editor, other, b"x\n1\n", filename="khac.csv")
    html = client.get(f"/dataset/activity/{dataset.name}").get_data(as_text=True)
    assert "Nguyễn Văn Biên Tập đã tải lên tệp «diem-truong.csv»." in html
    assert "Nguyễn Văn Biên Tập đã sửa thông tin tệp «Điểm trường 2025»." in html
    found = marks(html)
    assert ("diem-truong.csv", "Điểm trường 2025") in zip(found.dels, found.ins)
    assert "khac.csv" not in html  # another dataset's file


def test_history_follows_a_renamed_dataset(client, system, agency):
    dataset = make_dataset(system, agency, title="Tên cũ")
    services.update_dataset(system, dataset, {"name": "ten-moi"}, partial=True)
    assert client.get("/dataset/activity/ten-moi").status_code == 200
    html = client.get("/dataset/activity/ten-moi").get_data(as_text=True)
    assert "đã tạo bộ dữ liệu." in html and "đã công bố bộ dữ liệu." in html


def test_a_drafts_history_is_hidden_from_those_who_cannot_see_the_draft(client, draft, outsider):
    assert client.get(f"/dataset/activity/{draft.name}").status_code == 404
    sign_in(client, outsider)
    assert client.get(f"/dataset/activity/{draft.name}").status_code == 404
    assert client.get("/dataset/activity/khong-co").status_code == 404


def test_the_dataset_page_links_to_its_history(client, system, agency):
    dataset = make_dataset(system, agency)
    html = client.get(f"/dataset/{dataset.name}").get_data(as_text=True)
    assert f'href="/dataset/activity/{dataset.name}"' in html and "Lịch sử thay đổi" in html


def test_the_agency_stream_is_for_members(client, system, agency, other_agency, editor, outsider, draft):
    member = make_user(system, agency, "member", name="thanh-vien")
    make_dataset(system, other_agency, title="Cơ sở y tế")
    url = f"/organization/activity/{agency.name}"

    sign_in(client, member)
    response = client.get(url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Nguyễn Văn Biên Tập đã tạo bộ dữ liệu «Danh sách trường học»." in html
    assert "đã thêm Nguyễn Văn Biên Tập vào cơ quan với vai trò biên tập viên." in html
    assert "Cơ sở y tế" not in html  # another agency's activity
    assert f'href="{url}"' in client.get(f"/organization/{agency.name}").get_data(as_text=True)

    sign_in(client, outsider)
    assert client.get(url).status_code == 403
    assert f'href="{url}"' not in client.get(f"/organization/{agency.name}").get_data(as_text=True)


def test_the_agency_stream_sends_anonymous_visitors_to_log_in(client, agency):
    response = client.get(f"/organization/activity/{agency.name}")
    assert response.status_code == 302 and "/user/login" in response.headers["Location"]
    assert "/organization/activity/" not in client.get(f"/organization/{agency.name}").get_data(as_text=True)


def test_the_audit_log_is_for_sysadmins_only(client, admin, sysadmin, draft):
    assert client.get("/ckan-admin/audit").status_code == 302  # to the login page
    sign_in(client, admin)
    assert client.get("/ckan-admin/audit").status_code == 403
    sign_in(client, sysadmin)
    response = client.get("/ckan-admin/audit")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "đã tạo bộ dữ liệu «Danh sách trường học»." in html
    assert "đã tạo cơ quan «Sở Giáo dục và Đào tạo»." in html


def test_the_audit_log_filters_by_verb_agency_actor_and_object(client, system, agency, other_agency, editor, sysadmin,
                                                               draft):
    health = make_dataset(system, other_agency, title="Cơ sở y tế")
    sign_in(client, sysadmin)

    html = client.get("/ckan-admin/audit?verb=membership:").get_data(as_text=True)
    assert "vào cơ quan với vai trò" in html and "đã tạo bộ dữ liệu" not in html

    html = client.get(f"/ckan-admin/audit?agency={other_agency.name}").get_data(as_text=True)
    assert "«Cơ sở y tế»" in html and "Danh sách trường học" not in html

    html = client.get("/ckan-admin/audit?actor=biên tập&verb=dataset:create").get_data(as_text=True)
    assert "Nguyễn Văn Biên Tập đã tạo bộ dữ liệu «Danh sách trường học»." in html and "Cơ sở y tế" not in html

    html = client.get(f"/ckan-admin/audit?object={health.name}").get_data(as_text=True)
    assert "2 hoạt động phù hợp" in html and "Danh sách trường học" not in html  # created, published

    html = client.get("/ckan-admin/audit?from=2000-01-01&to=2000-12-31").get_data(as_text=True)
    assert "0 hoạt động phù hợp" in html and "Không có hoạt động nào phù hợp" in html


def test_activities_cannot_be_changed_or_deleted(app, system, agency):
    activity = db.session.query(Activity).filter_by(verb="agency:create").one()
    activity.verb = "agency:rewritten"
    with pytest.raises(PermissionError):
        db.session.flush()
    db.session.rollback()

    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(update(Activity).where(Activity.id == activity.id).values(verb="agency:rewritten"))
    db.session.rollback()
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(delete(Activity).where(Activity.id == activity.id))
    db.session.rollback()
    assert db.session.get(Activity, activity.id).verb == "agency:create"
