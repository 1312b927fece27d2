"""REST API v1 through the test client: every endpoint, its errors, pagination, ETag, CORS and uploads."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import g

from opendata.accounts.services import create_token
from opendata.catalog.models import Resource
from opendata.extensions import db
from tests.conftest import RequestScopedClient
from tests.factories import make_agency, make_dataset, make_file_resource, make_user

CSV = "Xã,Số hồ sơ\nXuân Hương,1234\nLâm Viên,987\n".encode()
CCCD_CSV = "Họ và tên,Số CCCD,Xã\nNguyễn Văn An,068095001234,Xuân Hương\nTrần Thị Bình,068195004321,Lâm Viên\n".encode()


class ApiClient(RequestScopedClient):
    """Each request identifies its token afresh (tests keep one app context, so ``g`` would carry it over)."""

    def open(self, *args, **kwargs):
        g.pop("api_actor", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def api(app):
    app.test_client_class = ApiClient
    return app.test_client()


@pytest.fixture
def agency(system):
    return make_agency(system, name="so-y-te", title="Sở Y tế")


def _token(system, user) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(system, user, 'kiểm thử')[1]}"}


@pytest.fixture
def admin(system, agency):
    user = make_user(system, agency, "admin", name="quan-tri")
    return user, _token(system, user)


@pytest.fixture
def editor(system, agency):
    user = make_user(system, agency, "editor", name="bien-tap")
    return user, _token(system, user)


@pytest.fixture
def outsider(system):
    user = make_user(system, name="nguoi-ngoai")
    return user, _token(system, user)


@pytest.fixture
def sysadmin(system):
    user = make_user(system, name="quan-tri-cong", is_sysadmin=True)
    return user, _token(system, user)


def error_of(response, status: int, code: str | None = None) -> dict:
    """Every error has the one shape; returns its ``error`` object."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def _stored_sha256(app, resource_id: str) -> str:
    resource = db.session.get(Resource, resource_id)
    path = Path(app.config["STORAGE_PATH"]) / resource.storage_key
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- datasets: list and search ------------------------------------------------------------

def test_list_shows_published_datasets_with_facets_and_totals(api, system, agency):
    make_dataset(system, agency, title="Danh sách trạm y tế Đà Lạt", tags=["y tế"])
    make_dataset(system, agency, title="Bản nháp chưa công bố", published=False)
    body = api.get("/api/v1/datasets").get_json()
    assert body["count"] == 1 and body["page"] == 1 and body["per_page"] == 20
    item = body["items"][0]
    assert item["title"] == "Danh sách trạm y tế Đà Lạt" and item["state"] == "published"
    assert item["agency"] == "so-y-te" and item["agency_title"] == "Sở Y tế"
    assert item["api_url"].endswith(f"/api/v1/datasets/{item['name']}")
    assert {"value": "so-y-te", "label": "Sở Y tế", "count": 1, "active": False} in body["facets"]["organization"]
    assert body["suggestion"] is None


def test_search_filters_and_folds_diacritics(api, system, agency):
    make_dataset(system, agency, title="Trạm y tế Đà Lạt", tags=["y tế", "đà lạt"])
    make_dataset(system, agency, title="Chợ Bảo Lộc", tags=["chợ"])
    assert [d["title"] for d in api.get("/api/v1/datasets?q=da lat").get_json()["items"]] == ["Trạm y tế Đà Lạt"]
    tagged = api.get("/api/v1/datasets", query_string=[("tags", "chợ"), ("tags", "đà lạt")]).get_json()
    assert tagged["count"] == 2  # repeated values of one facet: either matches, as on the search page
    assert api.get("/api/v1/datasets?tags=chợ").get_json()["count"] == 1
    assert api.get("/api/v1/datasets?sort=name").get_json()["items"][0]["title"] == "Chợ Bảo Lộc"


def test_pagination_links_in_body_and_link_header(api, system, agency):
    for number in range(5):
        make_dataset(system, agency, title=f"Bộ dữ liệu số {number}")
    response = api.get("/api/v1/datasets?per_page=2&page=2&tags=thử nghiệm")
    body = response.get_json()
    assert body["count"] == 5 and len(body["items"]) == 2
    links = body["links"]
    assert "page=2" in links["self"] and "page=3" in links["next"] and "page=1" in links["prev"]
    assert "page=1" in links["first"] and "page=3" in links["last"]
    assert all("per_page=2" in url and "tags=th" in url for url in links.values())
    assert links["self"].startswith("http://")
    assert f'<{links["next"]}>; rel="next"' in response.headers["Link"]
    last = api.get(links["last"]).get_json()
    assert len(last["items"]) == 1 and last["links"]["next"] is None
    first = api.get(links["first"]).get_json()
    assert first["links"]["prev"] is None


@pytest.mark.parametrize("query", ["per_page=0", "per_page=1001", "page=0", "page=abc", "sort=random",
                                   "include_private=maybe", "facet_limit=0"])
def test_bad_list_parameters_are_400_with_fields(api, query):
    name = query.split("=")[0]
    error = error_of(api.get(f"/api/v1/datasets?{query}"), 400, "bad_parameters")
    assert name in error["fields"]


def test_per_page_up_to_1000_and_unknown_parameters_ignored(api, system, agency):
    make_dataset(system, agency)
    assert api.get("/api/v1/datasets?per_page=1000&_=123").get_json()["per_page"] == 1000


def test_members_see_their_drafts_unless_they_ask_not_to(api, system, agency, editor):
    make_dataset(system, agency, title="Bản nháp", published=False)
    _, token = editor
    assert api.get("/api/v1/datasets", headers=token).get_json()["count"] == 1
    assert api.get("/api/v1/datasets?include_private=false", headers=token).get_json()["count"] == 0
    assert api.get("/api/v1/datasets").get_json()["count"] == 0


# --- ETag, conditional GET, CORS -----------------------------------------------------------

def test_etag_and_304_on_objects_and_lists(api, system, agency, admin):
    dataset = make_dataset(system, agency, title="Trạm y tế")
    for url in (f"/api/v1/datasets/{dataset.name}", "/api/v1/datasets", "/api/v1/agencies", "/api/v1/themes"):
        first = api.get(url)
        etag = first.headers["ETag"]
        again = api.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
        assert api.get(url, headers={"If-None-Match": '"khac"'}).status_code == 200
    etag = api.get(f"/api/v1/datasets/{dataset.name}").headers["ETag"]
    api.patch(f"/api/v1/datasets/{dataset.name}", json={"title": "Trạm y tế xã"}, headers=admin[1])
    changed = api.get(f"/api/v1/datasets/{dataset.name}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_cors_for_reads_only(api, system, agency, admin):
    dataset = make_dataset(system, agency)
    read = api.get(f"/api/v1/datasets/{dataset.name}", headers={"Origin": "https://example.org"})
    assert read.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in read.headers["Access-Control-Expose-Headers"]
    assert "Authorization" in read.headers["Vary"]
    missing = api.get("/api/v1/datasets/khong-co", headers={"Origin": "https://example.org"})
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == "*"
    preflight = api.options("/api/v1/datasets", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    write = api.post("/api/v1/datasets", json={}, headers={**admin[1], "Origin": "https://example.org"})
    assert "Access-Control-Allow-Origin" not in write.headers


# --- datasets: read and write ------------------------------------------------------------------

def test_show_by_name_or_id_with_resources_and_download_urls(api, app, system, agency):
    dataset = make_dataset(system, agency, title="Trạm y tế")
    resource = make_file_resource(system, dataset, CSV, filename="Trạm y tế.csv")
    by_name = api.get(f"/api/v1/datasets/{dataset.name}").get_json()
    assert api.get(f"/api/v1/datasets/{dataset.id}").get_json() == by_name
    assert by_name["id"] == dataset.id and by_name["license_id"] == "cc-by" and by_name["themes"] == ["hanh-chinh-cong"]
    assert by_name["created_at"].endswith("Z") and by_name["published_at"].endswith("Z")
    assert by_name["download_count"] == 0 and by_name["html_url"].endswith(f"/dataset/{dataset.name}")
    [entry] = by_name["resources"]
    assert entry["id"] == resource.id and entry["sha256"] == hashlib.sha256(CSV).hexdigest()
    assert entry["size"] == len(CSV) and entry["format"] == "CSV" and entry["is_upload"] is True
    download = api.get(entry["download_url"])
    assert download.status_code == 200 and download.data == CSV


def test_unpublished_and_missing_datasets_are_404_and_bad_tokens_401(api, system, agency, outsider):
    draft = make_dataset(system, agency, published=False)
    error_of(api.get(f"/api/v1/datasets/{draft.name}"), 404, "not_found")
    error_of(api.get(f"/api/v1/datasets/{draft.name}", headers=outsider[1]), 404)
    error_of(api.get("/api/v1/datasets/khong-ton-tai"), 404)
    error_of(api.get("/api/v1/datasets", headers={"Authorization": "Bearer odl_sai"}), 401, "invalid_token")
    error_of(api.get("/api/v1/khong-co-dau"), 404)


def test_create_dataset(api, agency, editor):
    payload = {"title": "Cơ sở lưu trú du lịch", "notes": "Danh sách khách sạn.", "agency": "so-y-te",
               "license_id": "cc-by", "tags": ["du lịch"], "temporal_start": "2025-01-01"}
    response = api.post("/api/v1/datasets", json=payload, headers=editor[1])
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "co-so-luu-tru-du-lich" and body["state"] == "draft" and body["published_at"] is None
    assert body["temporal_start"] == "2025-01-01" and body["tags"] == ["du lịch"]
    assert response.headers["Location"] == body["api_url"]
    assert "Access-Control-Allow-Origin" not in response.headers


def test_create_dataset_errors(api, agency, editor, outsider):
    payload = {"title": "Dữ liệu", "notes": "Mô tả.", "agency": "so-y-te", "license_id": "cc-by"}
    error_of(api.post("/api/v1/datasets", json=payload), 401, "authentication_required")
    error_of(api.post("/api/v1/datasets", data=payload, headers=editor[1]), 415, "unsupported_media_type")
    error_of(api.post("/api/v1/datasets", data="{khong phai json", content_type="application/json",
                      headers=editor[1]), 400)
    error_of(api.post("/api/v1/datasets", json=[payload], headers=editor[1]), 422)
    error = error_of(api.post("/api/v1/datasets", json={**payload, "license_id": "khong-co", "la": 1},
                              headers=editor[1]), 422, "validation_failed")
    assert set(error["fields"]) == {"license_id", "la"}
    error_of(api.post("/api/v1/datasets", json=payload, headers=outsider[1]), 403, "forbidden")
    error_of(api.post("/api/v1/datasets", data=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                      content_type="application/json", headers=editor[1]), 413)


def test_replace_and_patch_dataset(api, system, agency, editor):
    dataset = make_dataset(system, agency, published=False, version="1.0", title="Cũ")
    url = f"/api/v1/datasets/{dataset.name}"
    patched = api.patch(url, json={"title": "Tên mới"}, headers=editor[1]).get_json()
    assert patched["title"] == "Tên mới" and patched["version"] == "1.0"
    full = {"title": "Tên thay", "notes": "Mô tả thay.", "agency": "so-y-te", "license_id": "odc-by"}
    replaced = api.put(url, json=full, headers=editor[1])
    assert replaced.status_code == 200
    body = replaced.get_json()
    assert body["title"] == "Tên thay" and body["license_id"] == "odc-by" and "version" not in body
    error = error_of(api.put(url, json={"title": "Thiếu"}, headers=editor[1]), 422)
    assert "notes" in error["fields"]
    error_of(api.patch(url, json={"title": "x"}), 401)
    error_of(api.patch("/api/v1/datasets/khong-co", json={"title": "x"}, headers=editor[1]), 404)


def test_delete_is_soft_and_restore_brings_it_back(api, system, agency, admin, editor):
    dataset = make_dataset(system, agency)
    url = f"/api/v1/datasets/{dataset.name}"
    error_of(api.delete(url, headers=editor[1]), 403)
    assert api.delete(url, headers=admin[1]).status_code == 204
    error_of(api.get(url), 404)
    assert api.get(url, headers=admin[1]).get_json()["state"] == "deleted"
    restored = api.post(f"{url}/restore", headers=admin[1])
    assert restored.status_code == 200 and restored.get_json()["state"] == "published"


# --- the review workflow -------------------------------------------------------------------------

def test_submit_reject_resubmit_approve(api, system, agency, admin, editor):
    dataset = make_dataset(editor[0], agency, published=False)
    url = f"/api/v1/datasets/{dataset.name}"
    assert api.post(f"{url}/submit", headers=editor[1]).get_json()["state"] == "pending"
    error_of(api.post(f"{url}/approve", headers=editor[1]), 403)
    error = error_of(api.post(f"{url}/reject", json={"comment": "ngắn"}, headers=admin[1]), 422)
    assert "comment" in error["fields"]
    error_of(api.post(f"{url}/reject", json={"comment": "Cần bổ sung nguồn dữ liệu.", "khac": 1},
                      headers=admin[1]), 422)
    rejected = api.post(f"{url}/reject", json={"comment": "Cần bổ sung nguồn dữ liệu."}, headers=admin[1])
    assert rejected.get_json()["state"] == "draft"
    api.post(f"{url}/submit", headers=editor[1])
    assert api.post(f"{url}/approve", headers=admin[1]).get_json()["state"] == "published"
    withdrawn = api.post(f"{url}/withdraw", json={"comment": "Dữ liệu đang được rà soát lại."}, headers=admin[1])
    assert withdrawn.get_json()["state"] == "withdrawn"
    assert api.post(f"{url}/restore", headers=admin[1]).get_json()["state"] == "published"
    error_of(api.post(f"{url}/launch", headers=admin[1]), 404)
    error_of(api.post(f"{url}/submit", data="x", content_type="text/plain", headers=editor[1]), 415)


def test_a_transition_the_state_does_not_allow_is_409_with_the_reason(api, system, agency, admin):
    dataset = make_dataset(system, agency, published=False)
    error = error_of(api.post(f"/api/v1/datasets/{dataset.name}/withdraw", headers=admin[1]), 409, "conflict")
    assert "Bản nháp" in error["message"]


def test_personal_data_blocks_publication_with_409(api, system, agency, admin):
    dataset = make_dataset(system, agency, published=False, title="Danh sách hộ nghèo")
    make_file_resource(system, dataset, CCCD_CSV, filename="ho-ngheo.csv")
    error = error_of(api.post(f"/api/v1/datasets/{dataset.name}/publish", headers=admin[1]), 409, "conflict")
    assert error["message"].startswith("Chưa thể công bố")
    assert error["fields"]["blockers"] == ["Tệp «ho-ngheo.csv» có thể chứa dữ liệu cá nhân (xem báo cáo quét)."]
    assert api.get(f"/api/v1/datasets/{dataset.name}", headers=admin[1]).get_json()["state"] == "draft"


def test_purge_is_for_sysadmins(api, system, agency, admin, sysadmin):
    dataset = make_dataset(system, agency)
    url = f"/api/v1/datasets/{dataset.name}"
    api.delete(url, headers=admin[1])
    error_of(api.post(f"{url}/purge", headers=admin[1]), 403)
    assert api.post(f"{url}/purge", headers=sysadmin[1]).status_code == 204
    error_of(api.get(url, headers=sysadmin[1]), 404)


def test_dataset_activity(api, system, agency, admin):
    dataset = make_dataset(system, agency)
    api.patch(f"/api/v1/datasets/{dataset.name}", json={"title": "Tên mới hơn"}, headers=admin[1])
    body = api.get(f"/api/v1/datasets/{dataset.name}/activity").get_json()
    assert body["count"] == 3 and body["per_page"] == 30
    newest = body["items"][0]
    assert newest["verb"] == "dataset:update" and newest["actor"]["name"] == "quan-tri"
    assert any(change["field"] == "title" and change["new"] == "Tên mới hơn" for change in newest["changes"])
    assert newest["sentence"].startswith(admin[0].display_name)
    error_of(api.get(f"/api/v1/datasets/{dataset.name}/activity?page=x"), 400)


# --- resources ---------------------------------------------------------------------------------

@pytest.fixture
def draft(system, agency):
    return make_dataset(system, agency, published=False, title="Hồ sơ hành chính")


def test_multipart_upload(api, app, draft, editor):
    response = api.post(f"/api/v1/datasets/{draft.name}/resources", headers=editor[1],
                        data={"file": (io.BytesIO(CSV), "Hồ sơ 2025.csv"), "description": "Theo xã."},
                        content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["name"] == "Hồ sơ 2025.csv" and body["description"] == "Theo xã." and body["format"] == "CSV"
    assert body["sha256"] == hashlib.sha256(CSV).hexdigest() == _stored_sha256(app, body["id"])
    assert response.headers["Location"] == body["api_url"]


def test_raw_body_upload_with_content_disposition(api, app, draft, editor):
    content = CSV * 1000
    response = api.post(f"/api/v1/datasets/{draft.name}/resources?description=Bản+đầy+đủ", headers={
        **editor[1], "Content-Type": "text/csv",
        "Content-Disposition": "attachment; filename*=UTF-8''" + quote("Hồ sơ đầy đủ.csv")}, data=content)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["filename"] == "Hồ sơ đầy đủ.csv" and body["description"] == "Bản đầy đủ"
    assert body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest() == _stored_sha256(app, body["id"])


def test_raw_body_upload_with_filename_parameter(api, app, draft, editor):
    response = api.post(f"/api/v1/datasets/{draft.name}/resources?filename=so-lieu.csv", data=CSV,
                        headers={**editor[1], "Content-Type": "application/octet-stream"})
    assert response.status_code == 201
    assert _stored_sha256(app, response.get_json()["id"]) == hashlib.sha256(CSV).hexdigest()


def test_link_resource_and_upload_errors(api, app, draft, editor, outsider):
    url = f"/api/v1/datasets/{draft.name}/resources"
    link = api.post(url, json={"name": "Bản đồ", "url": "https://example.org/ban-do.geojson"}, headers=editor[1])
    assert link.status_code == 201
    assert link.get_json()["download_url"] == "https://example.org/ban-do.geojson"
    assert link.get_json()["is_upload"] is False
    error_of(api.post(url, data=CSV, headers={**editor[1], "Content-Type": "text/csv"}), 422)  # no file name
    error_of(api.post(url, data=CSV, headers=editor[1]), 415)  # no content type
    error_of(api.post(url, data={"description": "x"}, content_type="multipart/form-data", headers=editor[1]), 422)
    error_of(api.post(url, json={"name": "Không có gì"}, headers=editor[1]), 422)
    error_of(api.post(url + "?filename=a.csv", data=CSV, headers={"Content-Type": "text/csv"}), 401)
    error_of(api.post(url + "?filename=a.csv", data=CSV, headers={**outsider[1], "Content-Type": "text/csv"}), 404)
    error_of(api.post(url + "?filename=a.csv&mau=do", data=CSV, headers={**editor[1], "Content-Type": "text/csv"}),
             422)


def test_too_large_uploads_are_413(api, app, draft, editor):
    app.config.update(MAX_UPLOAD_SIZE=100, MAX_CONTENT_LENGTH=100)
    url = f"/api/v1/datasets/{draft.name}/resources"
    error_of(api.post(url + "?filename=a.csv", data=CSV * 10, headers={**editor[1], "Content-Type": "text/csv"}), 413)
    error_of(api.post(url, data={"file": (io.BytesIO(CSV * 10), "a.csv")}, content_type="multipart/form-data",
                      headers=editor[1]), 413)
    assert db.session.get(type(draft), draft.id).resources == []


def test_resource_read_patch_replace_delete(api, app, system, agency, editor):
    dataset = make_dataset(system, agency, published=False)
    resource = make_file_resource(system, dataset, CSV, filename="cu.csv")
    url = f"/api/v1/resources/{resource.id}"
    error_of(api.get(url), 404)  # its dataset is a draft
    shown = api.get(url, headers=editor[1]).get_json()
    assert shown["dataset"] == dataset.name and shown["filename"] == "cu.csv"
    listed = api.get(f"/api/v1/datasets/{dataset.name}/resources", headers=editor[1]).get_json()
    assert [item["id"] for item in listed["items"]] == [resource.id]
    patched = api.patch(url, json={"description": "Mô tả mới"}, headers=editor[1]).get_json()
    assert patched["description"] == "Mô tả mới"
    new_content = CSV + "Phường 1,5\n".encode()
    replaced = api.put(url, data=new_content, headers={
        **editor[1], "Content-Type": "text/csv", "Content-Disposition": 'attachment; filename="moi.csv"'})
    assert replaced.status_code == 200, replaced.get_json()
    assert replaced.get_json()["filename"] == "moi.csv"
    assert _stored_sha256(app, resource.id) == hashlib.sha256(new_content).hexdigest() == replaced.get_json()["sha256"]
    multipart = api.put(url, data={"file": (io.BytesIO(CSV), "lai.csv")}, content_type="multipart/form-data",
                        headers=editor[1])
    assert multipart.status_code == 200 and multipart.get_json()["sha256"] == hashlib.sha256(CSV).hexdigest()
    error_of(api.put(url, json={"name": "x"}, headers=editor[1]), 415)
    error_of(api.patch(url, json={"url": "https://example.org/x.csv"}, headers=editor[1]), 422)
    assert api.delete(url, headers=editor[1]).status_code == 204
    error_of(api.get(url, headers=editor[1]), 404)


# --- agencies and members ------------------------------------------------------------------------

def test_agencies(api, system, agency, admin, editor, sysadmin):
    make_dataset(system, agency)
    listed = api.get("/api/v1/agencies").get_json()["items"]
    assert [(item["name"], item["dataset_count"]) for item in listed] == [("so-y-te", 1)]
    shown = api.get("/api/v1/agencies/so-y-te").get_json()
    assert shown["title"] == "Sở Y tế" and shown["created_at"].endswith("Z")
    error_of(api.get("/api/v1/agencies/khong-co"), 404)
    payload = {"name": "so-du-lich", "title": "Sở Du lịch"}
    error_of(api.post("/api/v1/agencies", json=payload, headers=admin[1]), 403)
    created = api.post("/api/v1/agencies", json=payload, headers=sysadmin[1])
    assert created.status_code == 201 and created.get_json()["name"] == "so-du-lich"
    error_of(api.post("/api/v1/agencies", json=payload, headers=sysadmin[1]), 422)
    patched = api.patch("/api/v1/agencies/so-y-te", json={"title_en": "Department of Health"}, headers=admin[1])
    assert patched.get_json()["title_en"] == "Department of Health"
    error_of(api.patch("/api/v1/agencies/so-y-te", json={"title": "x"}, headers=editor[1]), 403)


def test_members(api, system, agency, admin, editor, outsider):
    url = "/api/v1/agencies/so-y-te/members"
    members = api.get(url, headers=admin[1]).get_json()["items"]
    assert [(m["user"], m["role"]) for m in members] == [("quan-tri", "admin"), ("bien-tap", "editor")]
    error_of(api.get(url), 401)
    error_of(api.get(url, headers=editor[1]), 403)
    added = api.post(url, json={"user": "nguoi-ngoai", "role": "member"}, headers=admin[1])
    assert added.status_code == 201 and added.get_json()["role"] == "member"
    error_of(api.post(url, json={"user": "khong-co", "role": "member"}, headers=admin[1]), 422)
    error_of(api.post(url, json={"user": "nguoi-ngoai", "role": "vua"}, headers=admin[1]), 422)
    assert api.patch(f"{url}/nguoi-ngoai", json={"role": "editor"}, headers=admin[1]).get_json()["role"] == "editor"
    assert api.delete(f"{url}/nguoi-ngoai", headers=admin[1]).status_code == 204
    error_of(api.delete(f"{url}/nguoi-ngoai", headers=admin[1]), 404)
    error = error_of(api.patch(f"{url}/quan-tri", json={"role": "member"}, headers=admin[1]), 409)
    assert "quản trị viên" in error["message"]


def test_agency_activity_is_for_members(api, system, agency, admin, outsider):
    make_dataset(system, agency)
    error_of(api.get("/api/v1/agencies/so-y-te/activity"), 401)
    error_of(api.get("/api/v1/agencies/so-y-te/activity", headers=outsider[1]), 403)
    body = api.get("/api/v1/agencies/so-y-te/activity", headers=admin[1]).get_json()
    assert body["count"] >= 2 and body["items"][0]["verb"]


# --- vocabularies --------------------------------------------------------------------------------

def test_themes_tags_licences(api, system, agency):
    make_dataset(system, agency, tags=["y tế", "bệnh viện"], themes=["y-te"])
    make_dataset(system, agency, tags=["y tế"], themes=["y-te"])
    themes = api.get("/api/v1/themes").get_json()["items"]
    assert len(themes) == 9 and {"name": "y-te", "dataset_count": 2}.items() <= next(
        t for t in themes if t["name"] == "y-te").items()
    assert api.get("/api/v1/themes/y-te").get_json()["dataset_count"] == 2
    error_of(api.get("/api/v1/themes/khong-co"), 404)
    tags = api.get("/api/v1/tags").get_json()["items"]
    assert tags[0] == {"name": "y tế", "count": 2} and {"name": "bệnh viện", "count": 1} in tags
    assert len(api.get("/api/v1/tags?limit=1").get_json()["items"]) == 1
    error_of(api.get("/api/v1/tags?limit=0"), 400)
    licences = api.get("/api/v1/licenses").get_json()["items"]
    assert {"id": "cc-by", "is_open": True}.items() <= licences[0].items()


# --- the current user and tokens -----------------------------------------------------------------

def test_me_and_tokens(api, system, agency, editor):
    error_of(api.get("/api/v1/me"), 401, "authentication_required")
    me = api.get("/api/v1/me", headers=editor[1]).get_json()
    assert me["name"] == "bien-tap" and me["memberships"] == [
        {"agency": "so-y-te", "agency_title": "Sở Y tế", "role": "editor"}]
    assert "password" not in me
    created = api.post("/api/v1/me/tokens", json={"name": "Máy chủ thu thập"}, headers=editor[1])
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    token = created.get_json()
    assert token["secret"].startswith("odl_")
    listed = api.get("/api/v1/me/tokens", headers=editor[1]).get_json()["items"]
    assert token["id"] in [item["id"] for item in listed] and all("secret" not in item for item in listed)
    new_auth = {"Authorization": f"Bearer {token['secret']}"}
    assert api.get("/api/v1/me", headers=new_auth).get_json()["name"] == "bien-tap"
    error_of(api.post("/api/v1/me/tokens", json={"name": "x", "expires_on": "2000-01-01"}, headers=editor[1]), 422)
    error_of(api.delete("/api/v1/me/tokens/khong-co", headers=editor[1]), 404)
    assert api.delete(f"/api/v1/me/tokens/{token['id']}", headers=new_auth).status_code == 204
    error_of(api.get("/api/v1/me", headers=new_auth), 401, "invalid_token")


def test_the_api_ignores_the_session_cookie(api, system, editor):
    from tests.forms import sign_in

    sign_in(api, editor[0])
    error_of(api.get("/api/v1/me"), 401)


def test_method_not_allowed_keeps_the_shape(api):
    response = api.delete("/api/v1/datasets")
    error_of(response, 405)
    assert "GET" in response.headers["Allow"]


def test_docs_page_uses_the_shipped_swagger_ui(api):
    page = api.get("/api/docs").get_data(as_text=True)
    assert "vendor/swagger-ui/swagger-ui-bundle.js" in page and 'data-spec-url="/api/v1/openapi.json"' in page
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-initializer.js"):
        assert api.get(f"/static/vendor/swagger-ui/{name}").status_code == 200
    assert "http" not in page.split("swagger-ui-bundle.js")[0].split("<script")[-1]


def test_rate_limited_reads_are_429_in_the_same_shape(api, app):
    app.config["API_RATE_LIMIT"] = "3/minute"
    for _ in range(3):
        assert api.get("/api/v1/licenses").status_code == 200
    response = api.get("/api/v1/licenses")
    error_of(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
