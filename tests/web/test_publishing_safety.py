"""Regression tests for holes found in review: each failed before its fix."""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from pathlib import Path

import pytest

from sqlalchemy import select

from opendata.accounts import services as accounts
from opendata.accounts.models import LoginAttempt
from opendata.authz import membership_role
from opendata.catalog import resources, services, workflow
from opendata.catalog.models import DatasetState
from opendata.errors import Conflict, ValidationFailed
from opendata.extensions import db
from opendata.privacy import gate
from opendata.privacy.scanner import scan_file
from tests.conftest import make_test_app
from tests.factories import make_agency, make_dataset, make_file_resource, make_user
from tests.forms import sign_in, submit

CCCD_CSV = "Họ và tên,Số CCCD\nNguyễn Văn An,068095001234\nTrần Thị Bình,068196004321\n".encode()
CSV_TABLE = "Xã,Số hồ sơ\nLâm Viên,12\n".encode()


@pytest.fixture
def agency(system):
    return make_agency(system)


@pytest.fixture
def editor(system, agency):
    return make_user(system, agency, "editor")


@pytest.fixture
def admin(system, agency):
    return make_user(system, agency, "admin")


def _download(client, resource, **headers):
    dataset = resource.dataset
    return client.get(f"/dataset/{dataset.name}/resource/{resource.id}/download/{resource.filename}", headers=headers)


def test_an_upload_format_cannot_be_edited_to_slip_past_the_gate(client, editor, admin, agency):
    dataset = make_dataset(admin, agency)
    resource = make_file_resource(editor, dataset, CCCD_CSV, "ds.csv")
    with pytest.raises(ValidationFailed):
        resources.update_resource(editor, dataset, resource, {"format": "PDF"})
    sign_in(client, editor)
    submit(client, f"/dataset/{dataset.name}/resource/{resource.id}/edit", data={"name": "ds", "format": "PDF"})
    db.session.refresh(resource)
    assert resource.format == "CSV"
    with client.session_transaction() as session:
        session.clear()
    assert _download(client, resource).status_code == 403


@pytest.mark.parametrize("content, filename", [
    ("068095001234\n068196004321\n068090009999\n".encode(), "ids.csv"),  # one column: sniffed as text
    (CCCD_CSV.replace(b",", b" "), "danh-sach.txt"),
])
def test_text_files_are_scanned_too(editor, admin, agency, content, filename):
    dataset = make_dataset(editor, agency, published=False)
    resource = make_file_resource(editor, dataset, content, filename)
    assert resource.privacy_scan["status"] == "done"
    workflow.submit(editor, dataset)
    with pytest.raises(Conflict):
        workflow.approve(admin, dataset)


def test_archives_the_scanner_cannot_read_need_an_admin(editor, admin, agency):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("danh-sach.csv", CCCD_CSV)
    dataset = make_dataset(editor, agency, published=False)
    make_file_resource(editor, dataset, buffer.getvalue(), "du-lieu.zip")
    assert [b.code for b in gate.blockers(dataset)] == ["not_scannable"]
    workflow.override_privacy(admin, dataset, "Đã mở tệp nén và kiểm tra từng bảng.")
    workflow.publish(admin, dataset)
    assert dataset.is_published


def test_a_second_override_keeps_the_first(editor, admin, agency):
    dataset = make_dataset(editor, agency, published=False)
    make_file_resource(editor, dataset, CCCD_CSV, "mot.csv")
    workflow.override_privacy(admin, dataset, "Danh sách thứ nhất đã được công khai.")
    make_file_resource(editor, dataset, CCCD_CSV + "Lê Văn C,068090009999\n".encode(), "hai.csv")
    workflow.override_privacy(admin, dataset, "Danh sách thứ hai cũng đã được công khai.")
    assert gate.blockers(dataset) == []
    assert len(dataset.privacy_override["resources"]) == 2
    assert dataset.privacy_override["earlier"][0]["reason"] == "Danh sách thứ nhất đã được công khai."


def test_a_file_held_back_is_never_cacheable_by_shared_caches(client, editor, admin, agency):
    dataset = make_dataset(admin, agency)
    resource = make_file_resource(editor, dataset, CCCD_CSV, "ds.csv")
    token = accounts.create_token(editor, editor, "kịch bản")[1]
    response = _download(client, resource, Authorization=f"Bearer {token}")
    assert response.status_code == 200
    assert "public" not in response.headers["Cache-Control"] and "private" in response.headers["Cache-Control"]


def test_files_never_scanned_are_scanned_by_rescan(editor, admin, agency):
    dataset = make_dataset(editor, agency, published=False)
    resource = make_file_resource(editor, dataset, "Xã,Số hồ sơ\nLâm Viên,12\n".encode(), "ho-so.csv")
    resource.privacy_scan = None  # as after upgrading a portal whose files predate the gate
    db.session.commit()
    assert [b.code for b in gate.blockers(dataset)] == ["scan_pending"]
    assert gate.rescan() == 1
    assert gate.blockers(dataset) == []
    assert gate.rescan() == 0


def test_published_data_keeps_an_open_classification(editor, admin, agency):
    dataset = make_dataset(admin, agency)
    with pytest.raises(Conflict):
        services.update_dataset(editor, dataset, {"access_level": "private"}, partial=True)
    db.session.refresh(dataset)
    assert dataset.extras["access_level"] == "open" and dataset.state == DatasetState.PUBLISHED
    unrated = make_dataset(admin, agency, published=False, importance=None)
    with pytest.raises(Conflict):
        workflow.publish(admin, unrated)


def test_an_invitation_is_only_for_its_address(system, agency, admin):
    mallory = make_user(system, email="mallory@example.org")
    secret = accounts.invite(admin, agency, "alice@example.org", "admin")[1]
    with pytest.raises(Conflict):
        accounts.accept_invitation(secret, {}, user=mallory)
    assert membership_role(mallory, agency.id) is None


def test_the_file_is_examined_before_it_has_a_name(app, editor, agency, monkeypatch):
    dataset = make_dataset(editor, agency, published=False)
    seen = []
    original = resources.sniff

    def watching(path, filename):
        stored = [p for p in Path(app.config["STORAGE_PATH"]).rglob("*") if p.is_file()]
        seen.append(stored)
        return original(path, filename)

    monkeypatch.setattr(resources, "sniff", watching)
    make_file_resource(editor, dataset, "a,b\n1,2\n".encode(), "bang.csv")
    assert seen == [[]]  # nothing in the store while the content was examined


def test_a_bogus_authorization_header_does_not_skip_csrf(client, editor, agency):
    dataset = make_dataset(editor, agency, published=False)
    sign_in(client, editor)
    response = client.post(f"/dataset/{dataset.name}/workflow/submit", headers={"Authorization": "Basic YTpi"})
    assert response.status_code == 400
    db.session.refresh(dataset)
    assert dataset.state == DatasetState.DRAFT


def test_next_never_leaves_the_site(app, client, admin, agency):
    app.config["WTF_CSRF_ENABLED"] = False
    dataset = make_dataset(admin, agency)
    sign_in(client, admin)
    response = client.post(f"/dataset/{dataset.name}/workflow/withdraw", data={"next": "/\\evil.example"})
    assert response.status_code == 303 and "evil" not in response.headers["Location"]


def test_proxy_hops_give_the_client_address(database_url, tmp_path):
    """Behind one proxy, login throttling counts the client's address, not the proxy's."""
    setup = make_test_app(database_url, tmp_path, PROXY_HOPS=1, WTF_CSRF_ENABLED=False)
    app = next(setup)
    try:
        client = app.test_client()
        client.post("/user/login", data={"login": "ai-do", "password": "sai-mat-khau"},
                    environ_base={"REMOTE_ADDR": "10.0.0.1"}, headers={"X-Forwarded-For": "203.0.113.9"})
        assert db.session.scalars(select(LoginAttempt.address)).all() == ["203.0.113.9"]
    finally:
        next(setup, None)


def test_the_scanner_keeps_its_own_csv_field_limit(tmp_path):
    csv.field_size_limit(sys.maxsize)  # as the frictionless package does on import
    try:
        path = tmp_path / "hong.csv"
        path.write_text("a,b\n1,2\n" + '3,"' + "x" * 200_000 + "\n", encoding="utf-8")
        assert scan_file(path, "CSV").error
    finally:
        csv.field_size_limit(128 * 1024)


def test_a_held_back_file_is_not_listed_to_the_public_nor_in_the_apis(client, editor, admin, agency):
    dataset = make_dataset(admin, agency)
    held = make_file_resource(editor, dataset, CCCD_CSV, "cong-dan.csv")
    page = client.get(f"/dataset/{dataset.name}").get_data(as_text=True)
    assert "cong-dan.csv" not in page
    ckan = client.get(f"/api/3/action/package_show?id={dataset.name}").get_json()["result"]
    assert held.id not in [item["id"] for item in ckan["resources"]]
    rest = client.get(f"/api/v1/datasets/{dataset.name}").get_json()
    assert held.id not in [item["id"] for item in rest["resources"]]
    token = accounts.create_token(editor, editor, "kịch bản")[1]
    mine = client.get(f"/api/3/action/package_show?id={dataset.name}", headers={"Authorization": token}).get_json()
    assert held.id in [item["id"] for item in mine["result"]["resources"]]  # editors keep seeing it
    workflow.override_privacy(admin, dataset, "Danh sách đã được công khai theo quyết định.")
    assert "cong-dan.csv" in client.get(f"/dataset/{dataset.name}").get_data(as_text=True)


def test_an_accepted_file_is_not_called_clean(client, editor, admin, agency):
    dataset = make_dataset(editor, agency, published=False)
    make_file_resource(editor, dataset, CCCD_CSV, "cong-dan.csv")
    workflow.override_privacy(admin, dataset, "Danh sách đã được công khai theo quyết định.")
    sign_in(client, admin)
    page = client.get(f"/dataset/edit/{dataset.name}").get_data(as_text=True)
    assert "quản trị viên đã xác nhận" in page and "không thấy dữ liệu cá nhân" not in page


def test_a_legacy_encoded_csv_is_served_with_its_real_charset(client, admin, agency):
    from opendata.storage.encoding import encode_cp1258
    dataset = make_dataset(admin, agency)
    resource = make_file_resource(admin, dataset, encode_cp1258("Xã,Ghi chú\nXuân Hương,Đã số hóa\n"), "ghi-chu.csv")
    answer = _download(client, resource)
    assert answer.headers["Content-Type"] == "text/csv; charset=windows-1258"


def test_coverage_cannot_end_before_it_starts(editor, agency):
    with pytest.raises(ValidationFailed) as refused:
        make_dataset(editor, agency, published=False, temporal_start="2025-12-31", temporal_end="2025-01-01")
    assert "temporal_end" in refused.value.fields


def test_without_a_mail_server_the_inviter_gets_the_link(client, system, agency, admin):
    sign_in(client, admin)
    answer = submit(client, f"/organization/{agency.name}/members", f"/organization/{agency.name}/members/invite",
                    data={"email": "moi@example.org", "role": "editor"}, follow_redirects=True)
    assert "/user/invite/" in answer.get_data(as_text=True)


def test_the_dictionary_follows_a_replaced_file_and_keeps_what_was_written(client, editor, agency):
    dataset = make_dataset(editor, agency, published=False)
    resource = make_file_resource(editor, dataset, "Xã,Số trạm\nLâm Viên,3\n".encode(), "tram.csv")
    resources.update_resource(editor, dataset, resource, {"schema": {"fields": [
        {"name": "Xã", "type": "string"}, {"name": "Số trạm", "type": "integer", "description": "Trạm y tế"}]}})
    resources.replace_file(editor, dataset, resource, resources.Upload(
        io.BytesIO("Xã,Số trạm,Trưởng trạm\nLâm Viên,3,Có\n".encode()), "tram-moi.csv"))
    sign_in(client, editor)
    page = client.get(f"/dataset/{dataset.name}/resource/{resource.id}/edit").get_data(as_text=True)
    assert "Trưởng trạm" in page and 'value="Trạm y tế"' in page


def test_moving_a_resource_past_an_end_or_unknown_changes_nothing(client, editor, agency):
    dataset = make_dataset(editor, agency, published=False)
    first = make_file_resource(editor, dataset, CSV_TABLE, "mot.csv")
    second = make_file_resource(editor, dataset, CSV_TABLE, "hai.csv")
    sign_in(client, editor)
    order = f"/dataset/{dataset.name}/resources/order"
    assert submit(client, f"/dataset/edit/{dataset.name}", order, data={"move": f"{first.id}:up"}).status_code == 303
    assert submit(client, f"/dataset/edit/{dataset.name}", order, data={"move": "khong-co:up"}).status_code == 422
    assert submit(client, f"/dataset/edit/{dataset.name}", order,
                  data={"move": f"{second.id}:sideways"}).status_code == 422
    db.session.refresh(dataset)
    assert [resource.id for resource in dataset.resources] == [first.id, second.id]
