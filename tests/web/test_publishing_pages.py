"""The publisher's pages: forms generated from the metadata schema, uploads, the dashboard."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from sqlalchemy import func, select

from opendata.catalog.models import Dataset, Resource
from opendata.catalog import resources, workflow
from opendata.extensions import db
from opendata.storage.encoding import encode_cp1258
from tests.factories import make_agency, make_dataset, make_file_resource, make_user
from tests.forms import csrf_from, sign_in, submit

CSV = "Xã,Số hồ sơ\nXuân Hương,1.234\nLâm Viên,987\n".encode()


@pytest.fixture
def agency(system):
    return make_agency(system, name="so-y-te", title="Sở Y tế")


@pytest.fixture
def editor(client, system, agency):
    user = make_user(system, agency, "editor")
    sign_in(client, user)
    return user


@pytest.fixture
def draft(editor, agency):
    return make_dataset(editor, agency, published=False)


def _files(app) -> list:
    from pathlib import Path
    root = Path(app.config["STORAGE_PATH"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_the_dataset_form_is_generated_from_the_metadata_schema(client, editor):
    page = client.get("/dataset/new").get_data(as_text=True)
    for label in ("Tên bộ dữ liệu", "Phân loại theo chia sẻ", "Phân loại theo mức độ quan trọng", "Tần suất cập nhật"):
        assert label in page
    assert 'aria-describedby="title-help"' in page and "Dữ liệu mở" in page


def test_invalid_form_shows_vietnamese_errors_and_creates_nothing(client, editor, agency):
    response = submit(client, "/dataset/new", data={"agency": agency.name, "notes": "Mô tả", "license_id": "cc-by"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Dữ liệu chưa hợp lệ" in page and 'aria-invalid="true"' in page
    assert db.session.scalar(select(func.count(Dataset.id))) == 0


def test_creating_a_dataset_through_the_form(client, editor, agency):
    response = submit(client, "/dataset/new", data={
        "title": "Cơ sở khám chữa bệnh", "notes": "Danh sách **cơ sở** y tế.", "agency": agency.name,
        "license_id": "cc-by", "themes": ["y-te"], "tags": "y tế, bệnh viện", "access_level": "open",
        "importance": "other", "spatial": "Đà Lạt\nBảo Lộc"})
    assert response.status_code == 303
    dataset = db.session.scalars(select(Dataset)).one()
    assert response.headers["Location"].endswith(f"/dataset/{dataset.name}/resource/new")
    assert dataset.state == "draft" and dataset.name == "co-so-kham-chua-benh"
    assert [tag.name for tag in dataset.tags] == ["bệnh viện", "y tế"]
    assert dataset.extras["spatial"] == ["Đà Lạt", "Bảo Lộc"]


def test_a_post_without_csrf_token_is_refused_and_changes_nothing(client, editor, agency):
    response = client.post("/dataset/new", data={"title": "Không có mã", "notes": "x", "agency": agency.name,
                                                 "license_id": "cc-by"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Dataset.id))) == 0


def test_several_files_at_once(client, draft):
    response = submit(client, f"/dataset/{draft.name}/resource/new", data={
        "file": [(io.BytesIO(CSV), "ho-so.csv"), (io.BytesIO(b'{"a": 1}'), "du-lieu.json")]},
        content_type="multipart/form-data")
    assert response.status_code == 303
    db.session.refresh(draft)
    assert [(r.name, r.format) for r in draft.resources] == [("ho-so.csv", "CSV"), ("du-lieu.json", "JSON")]


def test_legacy_encoding_is_detected_and_the_original_bytes_kept(app, client, draft):
    original = encode_cp1258("Xã,Ghi chú\nXuân Hương,Đã số hóa đầy đủ\n")
    page = client.get(f"/dataset/{draft.name}/resource/new").get_data(as_text=True)
    response = client.post(f"/dataset/{draft.name}/resource/new", headers={"Accept": "application/json"},
                           data={"csrf_token": csrf_from(page), "file": (io.BytesIO(original), "ghi-chu.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 201
    answer = response.get_json()["resources"][0]
    assert answer["encoding"] == "Windows-1258" and answer["format"] == "CSV"
    assert answer["sha256"] == hashlib.sha256(original).hexdigest()
    resource = db.session.get(Resource, answer["id"])
    assert resources.resource_path(resource).read_bytes() == original
    edit = client.get(f"/dataset/{draft.name}/resource/{resource.id}/edit").get_data(as_text=True)
    assert "Windows-1258" in edit and "Ghi chú" in edit  # the header, decoded, in the data dictionary


def test_format_comes_from_the_content_and_active_content_is_an_attachment(client, draft):
    submit(client, f"/dataset/{draft.name}/resource/new", content_type="multipart/form-data",
           data={"file": (io.BytesIO(b"<!doctype html><html><script>alert(1)</script></html>"), "bang.csv")})
    resource = db.session.scalars(select(Resource)).one()
    assert resource.format == "HTML"
    download = client.get(f"/dataset/{draft.name}/resource/{resource.id}/download/bang.csv")
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith("attachment")


def test_file_names_cannot_climb_out(client, draft):
    submit(client, f"/dataset/{draft.name}/resource/new", content_type="multipart/form-data",
           data={"file": (io.BytesIO(CSV), "../../etc/passwd.csv")})
    resource = db.session.scalars(select(Resource)).one()
    assert resource.filename == "passwd.csv" and "/" not in resource.storage_key.split("/", 2)[-1]


def test_a_zip_bomb_is_refused_and_leaves_nothing(app, client, draft):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.csv", b"0" * (60 * 1024 * 1024))
    response = submit(client, f"/dataset/{draft.name}/resource/new", content_type="multipart/form-data",
                      data={"file": (io.BytesIO(buffer.getvalue()), "du-lieu.zip")})
    assert response.status_code == 422
    assert "nén" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Resource.id))) == 0
    assert _files(app) == []


def test_an_upload_past_the_limit_is_413_and_leaves_nothing(app, client, draft):
    page = client.get(f"/dataset/{draft.name}/resource/new").get_data(as_text=True)
    app.config["MAX_UPLOAD_SIZE"] = app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post(f"/dataset/{draft.name}/resource/new", content_type="multipart/form-data",
                           data={"csrf_token": csrf_from(page), "file": (io.BytesIO(b"x" * 5000), "lon.bin")})
    assert response.status_code == 413
    assert db.session.scalar(select(func.count(Resource.id))) == 0
    assert _files(app) == []


def test_link_reorder_replace_describe_and_delete(app, client, draft, editor):
    first = make_file_resource(editor, draft, CSV, "ho-so.csv")
    response = submit(client, f"/dataset/{draft.name}/resource/new",
                      data={"url": "https://dichvucong.lamdong.gov.vn/api/thong-ke.json", "name": "API thống kê"})
    assert response.status_code == 303
    link = db.session.scalars(select(Resource).where(Resource.url.is_not(None))).one()
    assert link.format == "JSON" and link.position == 1
    submit(client, f"/dataset/edit/{draft.name}", f"/dataset/{draft.name}/resources/order",
           data={"move": f"{link.id}:up"})
    db.session.refresh(draft)
    assert [r.id for r in draft.resources] == [link.id, first.id]

    old_path = resources.resource_path(first)
    edit_url = f"/dataset/{draft.name}/resource/{first.id}/edit"
    response = submit(client, edit_url, data={
        "name": "Hồ sơ theo xã", "description": "Số hồ sơ",
        "file": (io.BytesIO(CSV + "Bảo Lộc,55\n".encode()), "ho-so-2025.csv")}, content_type="multipart/form-data")
    assert response.status_code == 303
    response = submit(client, edit_url, data={
        "name": "Hồ sơ theo xã", "dictionary": "1", "col-0-type": "string", "col-0-title": "Xã, phường",
        "col-1-type": "integer", "col-1-title": "Số hồ sơ", "col-1-unit": "hồ sơ"})
    assert response.status_code == 303
    db.session.refresh(first)
    assert first.name == "Hồ sơ theo xã" and first.filename == "ho-so-2025.csv"
    assert not old_path.exists() and resources.resource_path(first).exists()
    # 1.234 read as a decimal number until the publisher made the column whole numbers: the rows
    # are loaded again, with the Vietnamese thousands separator.
    assert first.schema["fields"][1] == {"name": "Số hồ sơ", "type": "integer", "title": "Số hồ sơ", "unit": "hồ sơ",
                                         "decimalChar": ",", "groupChar": "."}
    assert client.get(f"/dataset/{draft.name}/resource/{first.id}/data.json").get_json()[0]["Số hồ sơ"] == 1234
    public = client.get(f"/dataset/{draft.name}/resource/{first.id}").get_data(as_text=True)
    assert "integer" in public or "Số nguyên" in public

    bad = submit(client, edit_url, data={"name": "Hồ sơ", "dictionary": "1", "col-0-type": "kiểu-lạ"})
    assert bad.status_code == 422
    db.session.refresh(first)
    assert first.schema["fields"][0]["type"] == "string"

    path = resources.resource_path(first)
    submit(client, edit_url, f"/dataset/{draft.name}/resource/{first.id}/delete")
    assert db.session.get(Resource, first.id) is None and not path.exists()


def test_large_files_are_scanned_in_the_background(app, client, system, agency, editor):
    from opendata.tasks import TaskQueue, make_huey, init_app
    app.config.update(TASK_QUEUE="sqlite", SCAN_INLINE_MAX=10)
    init_app(app)
    dataset = make_dataset(editor, agency, published=False)
    resource = make_file_resource(editor, dataset, CSV, "ho-so.csv")
    assert resource.privacy_scan["status"] == "pending"
    admin = make_user(system, agency, "admin")
    with pytest.raises(Exception) as refused:
        workflow.publish(admin, dataset)
    assert "đang được quét" in str(refused.value)
    queue: TaskQueue = app.extensions["tasks"]
    task = queue.huey.dequeue()
    queue.huey.execute(task)
    db.session.refresh(resource)
    assert resource.privacy_scan["status"] == "done"
    workflow.publish(admin, dataset)
    assert dataset.is_published
    assert make_huey  # the same factory the app uses


def test_dashboard_lists_datasets_by_state_and_what_waits_for_review(client, system, agency, editor):
    admin = make_user(system, agency, "admin")
    waiting = make_dataset(editor, agency, published=False, title="Bộ chờ duyệt")
    workflow.submit(editor, waiting)
    make_dataset(editor, agency, published=False, title="Bộ nháp")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Bản nháp" in page and "Chờ duyệt" in page and "Bộ nháp" in page
    assert "Chờ bạn duyệt" not in page  # editors do not review
    sign_in(client, admin)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Chờ bạn duyệt (1)" in page and "Bộ chờ duyệt" in page


def test_refused_step_shows_the_reason_with_409(client, draft, agency, system):
    admin = make_user(system, agency, "admin")
    sign_in(client, admin)
    response = submit(client, f"/dataset/edit/{draft.name}", f"/dataset/{draft.name}/workflow/approve")
    assert response.status_code == 409
    assert "Chưa thực hiện được" in response.get_data(as_text=True)


def test_an_agency_admin_lets_editors_publish_directly(client, system, agency, editor, draft):
    admin = make_user(system, agency, "admin")
    refused = submit(client, "/dashboard", f"/organization/{agency.name}/publishing", data={"editors_publish": "on"})
    assert refused.status_code == 403 and not agency.editors_publish
    sign_in(client, admin)
    assert submit(client, "/dashboard", f"/organization/{agency.name}/publishing",
                  data={"editors_publish": "on"}).status_code == 303
    db.session.refresh(agency)
    assert agency.editors_publish
    sign_in(client, editor)
    response = submit(client, f"/dataset/edit/{draft.name}", f"/dataset/{draft.name}/workflow/publish")
    assert response.status_code == 303
    db.session.refresh(draft)
    assert draft.is_published
