"""CKAN's Action API through the Flask test client: every action, the error envelope, the fq subset, paging."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime

import pytest
from flask import g
from sqlalchemy import update

from opendata.accounts.models import User
from opendata.accounts.services import create_token
from opendata.catalog.models import Agency, Dataset
from opendata.extensions import db
from tests.conftest import RequestScopedClient
from tests.factories import make_agency, make_dataset, make_file_resource, make_user

CSV = "Xã/phường,Số trạm\n".encode() + b"".join(f"Xa {n},{n}\n".encode() for n in range(20))


class TokenScopedClient(RequestScopedClient):
    """Each request finds its API token afresh (``api_actor`` caches the caller in ``g``)."""

    def open(self, *args, **kwargs):
        g.pop("api_actor", None)
        return super().open(*args, **kwargs)


@dataclass
class Portal:
    system: User
    agency: Agency
    other: Agency
    admin: str
    editor: str
    member: str
    outsider: str  # admin of the other agency
    sysadmin: str
    published: Dataset
    second: Dataset
    draft: Dataset
    foreign: Dataset


@pytest.fixture
def api(app):
    app.test_client_class = TokenScopedClient
    client = app.test_client()

    def call(action: str, token: str | None = None, *, method: str = "POST", files=None, **params):
        headers = {"Authorization": token} if token else {}
        if method == "GET":
            response = client.get(f"/api/3/action/{action}", query_string=params, headers=headers)
        elif files is not None:
            response = client.post(f"/api/3/action/{action}", data={**params, **files}, headers=headers,
                                   content_type="multipart/form-data")
        else:
            response = client.post(f"/api/3/action/{action}", json=params, headers=headers)
        return response.status_code, response.get_json()

    call.client = client
    return call


def _token(system, user) -> str:
    return create_token(system, user, "ckan")[1]


@pytest.fixture
def portal(system) -> Portal:
    agency = make_agency(system, name="so-du-lich", title="Sở Du lịch")
    other = make_agency(system, name="so-y-te", title="Sở Y tế")
    users = {role: make_user(system, agency, role) for role in ("admin", "editor", "member")}
    outsider = make_user(system, other, "admin")
    root = make_user(system, name="quan-tri", is_sysadmin=True)
    published = make_dataset(system, agency, title="Điểm du lịch Đà Lạt", name="diem-du-lich",
                             tags=["du lịch", "đà lạt"], themes=["du-lich"])
    make_file_resource(system, published, CSV, filename="diem.csv")
    second = make_dataset(system, agency, title="Lượt khách lưu trú", name="luot-khach", license_id="odc-odbl",
                          tags=["du lịch"], update_frequency="monthly")
    draft = make_dataset(system, agency, published=False, title="Bản nháp nội bộ", name="ban-nhap")
    foreign = make_dataset(system, other, title="Cơ sở y tế", name="co-so-y-te", themes=["y-te"], tags=["y tế"])
    make_file_resource(system, foreign, CSV, filename="y-te.xlsx.csv", format="CSV")
    return Portal(system, agency, other, *(_token(system, users[r]) for r in ("admin", "editor", "member")),
                  _token(system, outsider), _token(system, root), published, second, draft, foreign)


def _names(result) -> list[str]:
    return sorted(item["name"] for item in result["results"])


# --- the envelope and the read actions --------------------------------------------------------

def test_status_show_and_its_util_alias(api, portal):
    status, body = api("status_show", method="GET")
    assert status == 200 and body["success"] is True
    assert body["help"].endswith("/api/3/action/help_show?name=status_show")
    assert body["result"]["ckan_version"].startswith("2.")
    alias = api.client.get("/api/util/status").get_json()
    assert alias["result"] == body["result"]
    assert api.client.get("/api/action/site_read").get_json()["result"] is True
    status, body = api("help_show", name="package_search")
    assert "fq" in body["result"]


def test_package_list_is_the_published_datasets_unless_include_private(api, portal):
    assert api("package_list", method="GET")[1]["result"] == ["co-so-y-te", "diem-du-lich", "luot-khach"]
    assert "ban-nhap" in api("package_list", portal.member, include_private=True)[1]["result"]
    assert "ban-nhap" not in api("package_list", portal.outsider, include_private=True)[1]["result"]
    assert api("package_list", limit=1, offset=1)[1]["result"] == ["diem-du-lich"]


def test_package_show_carries_ckan_fields_and_the_schema_extras(api, portal):
    status, body = api("package_show", method="GET", id=portal.published.id)
    assert status == 200
    package = body["result"]
    assert package["name"] == "diem-du-lich" and package["title"] == "Điểm du lịch Đà Lạt"
    assert package["owner_org"] == portal.agency.id and package["organization"]["name"] == "so-du-lich"
    assert package["state"] == "active" and package["publication_state"] == "published" and package["private"] is False
    assert [tag["name"] for tag in package["tags"]] == ["du lịch", "đà lạt"] and package["num_tags"] == 2
    assert [group["name"] for group in package["groups"]] == ["du-lich"]
    assert package["license_id"] == "cc-by" and package["license_title"].startswith("Creative Commons")
    assert package["update_frequency"] == "annual" and package["access_level"] == "open"  # flattened extras
    assert package["metadata_modified"] >= package["metadata_created"]
    [resource] = package["resources"]
    assert package["num_resources"] == 1
    assert resource["package_id"] == package["id"] and resource["format"] == "CSV" and resource["url_type"] == "upload"
    assert resource["url"].startswith("http") and resource["url"].endswith(
        f"/dataset/diem-du-lich/resource/{resource['id']}/download/diem.csv")
    assert len(resource["hash"]) == 64 and resource["size"] == len(CSV) and resource["mimetype"] == "text/csv"
    # by name too, and an unpublished dataset is not found by outsiders, as in CKAN
    assert api("package_show", id="diem-du-lich")[1]["result"]["id"] == package["id"]
    for token in (None, portal.outsider):
        status, body = api("package_show", token, id="ban-nhap")
        assert status == 404 and body["error"]["__type"] == "Not Found Error"
    status, body = api("package_show", portal.member, id="ban-nhap")
    assert status == 200 and body["result"]["state"] == "draft" and body["result"]["private"] is True


def test_current_package_list_with_resources(api, portal):
    result = api("current_package_list_with_resources", method="GET", limit=2)[1]["result"]
    assert len(result) == 2 and all("resources" in package for package in result)
    assert "ban-nhap" not in [package["name"] for package in result]


def test_organizations_groups_tags_licenses(api, portal):
    assert api("organization_list", method="GET")[1]["result"] == ["so-du-lich", "so-y-te"]
    full = api("organization_list", all_fields=True)[1]["result"]
    assert {org["name"]: org["package_count"] for org in full} == {"so-du-lich": 2, "so-y-te": 1}
    org = api("organization_show", id=portal.agency.id, include_datasets=True)[1]["result"]
    assert org["name"] == "so-du-lich" and org["package_count"] == 2
    assert sorted(p["name"] for p in org["packages"]) == ["diem-du-lich", "luot-khach"]
    # members see their agency's drafts there, as on the agency's page
    assert api("organization_show", portal.member, id="so-du-lich")[1]["result"]["package_count"] == 3
    assert api("organization_show", id="khong-co")[0] == 404
    users = api("organization_show", portal.admin, id="so-du-lich", include_users=True)[1]["result"]["users"]
    assert {user["capacity"] for user in users} == {"admin", "editor", "member"}
    assert api("organization_show", portal.editor, id="so-du-lich", include_users=True)[0] == 403
    groups = api("group_list", all_fields=True)[1]["result"]
    assert len(groups) == 9 and {g["name"]: g["package_count"] for g in groups}["du-lich"] == 1
    group = api("group_show", id="y-te", include_datasets=True)[1]["result"]
    assert group["title"] == "Y tế" and [p["name"] for p in group["packages"]] == ["co-so-y-te"]
    assert api("tag_list", method="GET")[1]["result"] == ["du lịch", "y tế", "đà lạt"]
    assert api("tag_list", query="lịch")[1]["result"] == ["du lịch"]
    licenses = api("license_list")[1]["result"]
    assert {"cc-by", "odc-odbl"} <= {item["id"] for item in licenses} and all("title" in item for item in licenses)


def test_resource_show_and_user_show(api, portal):
    resource = portal.published.resources[0]
    result = api("resource_show", method="GET", id=resource.id)[1]["result"]
    assert result["id"] == resource.id and result["hash"] == resource.sha256
    hidden = make_file_resource(portal.system, portal.draft, CSV, filename="noi-bo.csv")
    assert api("resource_show", id=hidden.id)[0] == 404
    assert api("resource_show", portal.member, id=hidden.id)[0] == 200
    other = api("user_show", id="quan-tri")[1]["result"]
    assert other["name"] == "quan-tri" and "email" not in other and other["sysadmin"] is True
    mine = api("user_show", portal.sysadmin, id="quan-tri")[1]["result"]
    assert mine["email"].endswith("@example.org")
    assert api("user_show", id="khong-co")[0] == 404


# --- package_search -----------------------------------------------------------------------------

def test_package_search_text_facets_and_paging(api, portal):
    status, body = api("package_search", method="GET", q="du lịch", rows=10,
                       **{"facet.field": json.dumps(["organization", "tags", "res_format", "license_id", "groups"])})
    result = body["result"]
    assert status == 200 and _names(result) == ["diem-du-lich", "luot-khach"] and result["count"] == 2
    assert result["facets"]["organization"] == {"so-du-lich": 2}
    assert result["facets"]["tags"]["du lịch"] == 2
    items = result["search_facets"]["organization"]["items"]
    assert items == [{"name": "so-du-lich", "display_name": "Sở Du lịch", "count": 2}]
    assert result["sort"] == "score desc, metadata_modified desc"
    # rows and start
    page = api("package_search", rows=1, start=1, sort="name asc")[1]["result"]
    assert page["count"] == 3 and len(page["results"]) == 1
    assert api("package_search", rows=0)[1]["result"]["results"] == []
    # no facets unless asked for
    assert api("package_search")[1]["result"]["facets"] == {}
    # words with a filter only the database can apply: the words restrict it, by id or by score
    assert _names(api("package_search", q="lượt khách", fq="-organization:so-y-te", sort="id asc")[1]["result"]) \
        == ["luot-khach"]
    scored = api("package_search", q="du lịch", fq="capacity:public", **{"facet.field": '["tags"]'})[1]["result"]
    assert _names(scored) == ["diem-du-lich", "luot-khach"] and scored["facets"]["tags"]["du lịch"] == 2
    assert "y tế" not in scored["facets"]["tags"]


def test_include_private_shows_the_callers_agency_drafts(api, portal):
    assert "ban-nhap" not in _names(api("package_search", portal.member)[1]["result"])
    assert "ban-nhap" in _names(api("package_search", portal.member, include_private=True)[1]["result"])
    assert "ban-nhap" not in _names(api("package_search", portal.outsider, include_private=True)[1]["result"])
    assert "ban-nhap" not in _names(api("package_search", include_private=True)[1]["result"])
    # through the database path too (fq with a negation, sort by id)
    found = api("package_search", portal.member, include_private=True, fq="-organization:so-y-te",
                sort="id asc")[1]["result"]
    assert _names(found) == ["ban-nhap", "diem-du-lich", "luot-khach"]


FQ_CASES = [
    ("organization:so-du-lich", ["diem-du-lich", "luot-khach"]),
    ("organization:so-du-lich OR organization:so-y-te", ["co-so-y-te", "diem-du-lich", "luot-khach"]),
    ("-organization:so-du-lich", ["co-so-y-te"]),
    ("organization:so-du-lich -groups:du-lich", ["luot-khach"]),
    ("groups:y-te", ["co-so-y-te"]),
    ('tags:"du lịch"', ["diem-du-lich", "luot-khach"]),
    ('tags:("đà lạt" OR "y tế")', ["co-so-y-te", "diem-du-lich"]),
    ("res_format:CSV", ["co-so-y-te", "diem-du-lich"]),
    ("license_id:odc-odbl", ["luot-khach"]),
    ("-license_id:odc-odbl", ["co-so-y-te", "diem-du-lich"]),
    ("update_frequency:monthly", ["luot-khach"]),
    ("+name:luot-khach", ["luot-khach"]),
    ("capacity:public", ["co-so-y-te", "diem-du-lich", "luot-khach"]),
    ("capacity:private", []),
    ("metadata_modified:[2025-01-01T00:00:00Z TO *]", ["co-so-y-te", "diem-du-lich", "luot-khach"]),
    ("metadata_modified:[* TO 2025-01-01T00:00:00Z]", []),
    ("metadata_created:{2000-01-01 TO NOW+1DAY}", ["co-so-y-te", "diem-du-lich", "luot-khach"]),
    ("organization:so-y-te OR tags:\"đà lạt\"", ["co-so-y-te", "diem-du-lich"]),  # OR across fields
    ("(organization:so-y-te OR organization:so-du-lich) AND NOT res_format:CSV", ["luot-khach"]),
    ("organization:so-du-lich OR organization:so-y-te groups:du-lich", ["diem-du-lich"]),  # spaces bind loosest
    ("dataset_type:dataset *:*", ["co-so-y-te", "diem-du-lich", "luot-khach"]),
    ("year:2020", []),
]


def test_fq_subset(api, portal):
    # One test over every case: each would otherwise build the same catalogue again.
    for fq, expected in FQ_CASES:
        status, body = api("package_search", method="GET", fq=fq, rows=100)
        assert status == 200, (fq, body)
        assert (fq, _names(body["result"])) == (fq, expected)
        assert body["result"]["count"] == len(expected), fq


def test_fq_by_id_and_owner_org(api, portal):
    assert _names(api("package_search", fq=f"id:{portal.second.id}")[1]["result"]) == ["luot-khach"]
    assert _names(api("package_search", fq=f"owner_org:{portal.other.id}")[1]["result"]) == ["co-so-y-te"]


FQ_ERRORS = [
    ("title:x", "field 'title'"),
    ("du lịch", "has no field"),
    ("tags:du*", "wildcard"),
    ("name:x^2", "boosts"),
    ("organization:(a OR b", "expected ')'"),
    ('tags:"open', "not closed"),
    ("metadata_modified:2025-01-01", "date range"),
    ("metadata_modified:[yesterday TO *]", "is not a date"),
    ("tags:[a TO b]", "ranges are supported on"),
    ("capacity:secret", "'capacity' is one of"),
    ("{!lucene}name:x", "unexpected"),
]


def test_fq_outside_the_subset_is_a_search_query_error(api, portal):
    for fq, part in FQ_ERRORS:
        status, body = api("package_search", fq=fq)
        assert (fq, status, body["success"]) == (fq, 400, False)
        assert body["error"]["__type"] == "Search Query Error"
        message = body["error"]["message"]
        assert message.startswith("Search Query is invalid: ") and part in message, (fq, message)


def test_sort_and_facet_errors(api, portal):
    assert api("package_search", sort="popularity desc")[1]["error"]["__type"] == "Search Query Error"
    status, body = api("package_search", **{"facet.field": '["extras_x"]'})
    assert status == 400 and "extras_x" in body["error"]["message"]
    status, body = api("package_search", rows="many")
    assert status == 409 and body["error"]["__type"] == "Validation Error" and "rows" in body["error"]
    ordered = api("package_search", sort="title_string desc, name asc")[1]["result"]["results"]
    assert [p["title"] for p in ordered] == sorted((p["title"] for p in ordered), reverse=True)
    newest = api("package_search", sort="metadata_modified desc", rows=1)[1]["result"]["results"][0]
    assert newest["name"] == "co-so-y-te"


def test_facets_agree_between_the_service_and_the_database(api, portal):
    facets = json.dumps(["organization", "tags", "res_format", "license_id", "groups", "update_frequency", "year"])
    through_service = api("package_search", **{"facet.field": facets})[1]["result"]["facets"]
    through_database = api("package_search", sort="id asc", **{"facet.field": facets})[1]["result"]["facets"]
    assert through_service == through_database
    assert through_database["res_format"] == {"CSV": 2}


def test_deep_paging_by_id_returns_every_dataset_once(api, portal, system):
    agency = make_agency(system, name="so-nong-nghiep")
    for n in range(247):
        make_dataset(system, agency, published=False, title=f"Vùng trồng {n}")
    # Published through the columns the workflow would set: 247 publish steps add nothing to this test.
    db.session.execute(update(Dataset).where(Dataset.agency_id == agency.id)
                       .values(state="published", published_at=datetime(2025, 6, 1)))
    db.session.commit()
    seen, start = [], 0
    while True:
        page = api("package_search", method="GET", rows=100, start=start, sort="id asc")[1]["result"]
        if not page["results"]:
            break
        assert page["count"] == 250
        seen += [package["id"] for package in page["results"]]
        start += 100
    assert len(seen) == 250 and len(set(seen)) == 250 and seen == sorted(seen)


# --- writes ------------------------------------------------------------------------------------------

NEW = {"title": "Giá phòng khách sạn", "notes": "Giá phòng trung bình theo quý.", "license_id": "cc-by",
       "tags": [{"name": "Khách sạn"}], "groups": [{"name": "du-lich"}], "access_level": "open",
       "importance": "other"}


def test_package_create_makes_a_draft_and_private_false_publishes(api, portal):
    status, body = api("package_create", portal.editor, owner_org=portal.agency.id, name="gia-phong", **NEW)
    assert status == 200, body
    package = body["result"]
    assert package["state"] == "draft" and package["private"] is True and package["owner_org"] == portal.agency.id
    assert [tag["name"] for tag in package["tags"]] == ["khách sạn"] and package["groups"][0]["name"] == "du-lich"
    status, body = api("package_create", portal.admin, owner_org="so-du-lich", name="gia-phong-2", private=False,
                       **NEW)
    assert status == 200, body
    assert body["result"]["private"] is False and body["result"]["publication_state"] == "published"
    # resources given with the package are links; one the gate cannot scan keeps the dataset a draft, saying why
    status, body = api("package_create", portal.admin, owner_org="so-du-lich", name="gia-phong-3", private=False,
                       resources=[{"name": "Bảng giá", "url": "https://example.org/gia.csv"}], **NEW)
    assert status == 409 and "gia-phong-3" in body["error"]["message"] and "Bảng giá" in str(body["error"]["blockers"])
    saved = api("package_show", portal.admin, id="gia-phong-3")[1]["result"]
    assert saved["state"] == "draft" and saved["resources"][0]["url"] == "https://example.org/gia.csv"
    assert saved["resources"][0]["format"] == "CSV"


def test_publishing_refusals_keep_the_draft_and_say_why(api, portal):
    status, body = api("package_create", portal.editor, owner_org=portal.agency.id, name="bi-tu-choi", private=False,
                       **NEW)
    assert status == 403 and body["error"]["__type"] == "Authorization Error"
    assert "bi-tu-choi" in body["error"]["message"]
    assert api("package_show", portal.editor, id="bi-tu-choi")[1]["result"]["state"] == "draft"
    status, body = api("package_create", portal.admin, owner_org=portal.agency.id, name="dung-chung",
                       private=False, **{**NEW, "access_level": "shared"})
    assert status == 409 and body["error"]["__type"] == "Validation Error"
    assert "Dữ liệu mở" in body["error"]["message"] and body["error"]["blockers"]


def test_validation_errors_name_ckan_fields(api, portal):
    status, body = api("package_create", portal.editor, name="Tên sai", notes="x")
    assert status == 409 and body["error"]["__type"] == "Validation Error"
    assert {"name", "title", "license_id", "owner_org"} <= set(body["error"])
    assert all(isinstance(messages, list) for key, messages in body["error"].items()
               if key not in {"__type", "message"})
    status, body = api("package_create", portal.editor, owner_org="khong-co", **NEW)
    assert status == 409 and "owner_org" in body["error"]
    status, body = api("package_create", portal.editor, owner_org=portal.agency.id, colour="blue", **NEW)
    assert status == 409 and "colour" in body["error"]
    status, body = api("package_show")
    assert status == 409 and body["error"]["id"]


def test_update_patch_and_round_trip(api, portal):
    shown = api("package_show", portal.editor, id="luot-khach")[1]["result"]
    shown["title"] = "Lượt khách lưu trú theo tháng"
    status, body = api("package_update", portal.editor, **shown)  # what package_show gives, package_update takes
    assert status == 200, body
    assert body["result"]["title"] == "Lượt khách lưu trú theo tháng" and body["result"]["private"] is False
    status, body = api("package_patch", portal.editor, id="luot-khach", notes="Đã sửa.")
    assert status == 200 and body["result"]["notes"] == "Đã sửa."
    assert body["result"]["title"] == "Lượt khách lưu trú theo tháng"
    # a full update clears what it leaves out; a patch does not. A published dataset must
    # stay classified as open data, so leaving the classification out is refused.
    assert api("package_update", portal.editor, id="luot-khach", title="T", notes="N", license_id="cc-by")[0] == 409
    status, body = api("package_update", portal.editor, id="luot-khach", title="T", notes="N", license_id="cc-by",
                       access_level="open", importance="other")
    assert status == 200 and body["result"]["update_frequency"] is None
    assert body["result"]["owner_org"] == portal.agency.id
    # private: true withdraws (admins)
    assert api("package_patch", portal.editor, id="luot-khach", private=True)[0] == 403
    status, body = api("package_patch", portal.admin, id="luot-khach", private=True)
    assert status == 200 and body["result"]["publication_state"] == "withdrawn" and body["result"]["private"]


def test_foreign_agencies_and_anonymous_callers_cannot_write(api, portal):
    status, body = api("package_patch", portal.outsider, id="luot-khach", title="X")
    assert status == 403 and body["error"]["__type"] == "Authorization Error"
    assert api("package_patch", portal.outsider, id="ban-nhap", title="X")[0] == 404
    assert api("package_create", portal.outsider, owner_org="so-du-lich", **NEW)[0] == 403
    assert api("package_patch", None, id="luot-khach", title="X")[0] == 403
    assert api("package_patch", portal.member, id="luot-khach", title="X")[0] == 403
    status, body = api("package_show", "not-a-token", id="luot-khach")
    assert status == 403 and body["error"]["__type"] == "Authorization Error"


def test_package_delete_is_the_workflows_trash(api, portal):
    assert api("package_delete", portal.editor, id="luot-khach")[0] == 403
    status, body = api("package_delete", portal.admin, id="luot-khach")
    assert status == 200 and body["result"] is None
    assert api("package_show", id="luot-khach")[0] == 404
    trashed = api("package_show", portal.admin, id="luot-khach")[1]["result"]
    assert trashed["state"] == "deleted" and trashed["publication_state"] == "deleted"
    assert "luot-khach" not in api("package_list")[1]["result"]


def test_resources_upload_link_update_delete(api, portal):
    status, body = api("resource_create", portal.editor, package_id="ban-nhap", name="Danh sách",
                       files={"upload": (io.BytesIO(CSV), "danh-sach.csv")})
    assert status == 200, body
    uploaded = body["result"]
    assert uploaded["url_type"] == "upload" and uploaded["size"] == len(CSV) and uploaded["format"] == "CSV"
    # the download address works with the token for the agency's members, not for anyone else
    path = uploaded["url"].split("://", 1)[1].split("/", 1)[1]
    assert api.client.get("/" + path, headers={"Authorization": portal.member}).data == CSV
    assert api.client.get("/" + path).status_code == 404
    status, body = api("resource_create", portal.editor, package_id="ban-nhap", url="https://example.org/a.json")
    assert status == 200, body
    assert body["result"]["format"] == "JSON" and body["result"]["url_type"] is None
    link = body["result"]
    status, body = api("resource_patch", portal.editor, id=link["id"], description="Mô tả mới")
    assert status == 200 and body["result"]["description"] == "Mô tả mới"
    status, body = api("resource_update", portal.editor, id=uploaded["id"], name="Danh sách mới",
                       url=uploaded["url"], files={"upload": (io.BytesIO(CSV + b"Xa 99,99\n"), "moi.csv")})
    assert status == 200, body
    assert body["result"]["name"] == "Danh sách mới" and body["result"]["size"] == len(CSV) + 9
    assert api("resource_create", portal.editor, package_id="ban-nhap")[0] == 409  # neither file nor url
    assert api("resource_create", portal.outsider, package_id="diem-du-lich", url="https://example.org/x")[0] == 403
    assert api("resource_delete", portal.editor, id=link["id"])[1]["result"] is None
    assert api("resource_show", portal.editor, id=link["id"])[0] == 404
    names = [r["name"] for r in api("package_show", portal.editor, id="ban-nhap")[1]["result"]["resources"]]
    assert names == ["Danh sách mới"]


def test_package_update_with_resources_makes_the_list(api, portal):
    shown = api("package_show", portal.editor, id="diem-du-lich")[1]["result"]
    kept = dict(shown["resources"][0], description="Giữ lại")
    shown["resources"] = [kept, {"name": "Bản đồ", "url": "https://example.org/ban-do.geojson"}]
    status, body = api("package_update", portal.editor, **shown)
    assert status == 200, body
    resources = body["result"]["resources"]
    assert [r["name"] for r in resources] == ["diem.csv", "Bản đồ"] and resources[0]["description"] == "Giữ lại"
    shown["resources"] = [resources[1]]
    assert [r["name"] for r in api("package_update", portal.editor, **shown)[1]["result"]["resources"]] == ["Bản đồ"]


def test_organization_members(api, portal, system):
    newcomer = make_user(system, name="nguoi-moi")
    status, body = api("organization_member_create", portal.admin, id="so-du-lich", username="nguoi-moi",
                       role="editor")
    assert status == 200 and body["result"]["capacity"] == "editor" and body["result"]["table_id"] == newcomer.id
    assert api("organization_member_create", portal.editor, id="so-du-lich", username="nguoi-moi",
               role="admin")[0] == 403
    assert api("organization_member_create", portal.outsider, id="so-du-lich", username="nguoi-moi",
               role="admin")[0] == 403
    status, body = api("organization_member_create", portal.admin, id="so-du-lich", username="nguoi-moi", role="boss")
    assert status == 409 and "role" in body["error"]
    assert api("organization_member_delete", portal.admin, id="so-du-lich", username="nguoi-moi")[1]["success"]
    assert api("organization_member_delete", portal.admin, id="so-du-lich", username="nguoi-moi")[0] == 404


# --- the request itself ----------------------------------------------------------------------------

def test_unknown_action_and_bad_bodies_answer_like_ckan(api, portal):
    response = api.client.get("/api/3/action/package_frobnicate")
    assert response.status_code == 400 and response.get_json() == "Bad request: Action name not known: package_frobnicate"
    response = api.client.post("/api/3/action/package_show", data="{not json", content_type="application/json")
    assert response.status_code == 400 and response.get_json().startswith("Bad request - JSON Error")
    # curl -d '{"id": ...}' (a form body that is JSON) and a plain form both work
    response = api.client.post("/api/action/package_show", data='{"id": "diem-du-lich"}',
                               content_type="application/x-www-form-urlencoded")
    assert response.get_json()["result"]["name"] == "diem-du-lich"
    response = api.client.post("/api/action/package_show", data={"id": "diem-du-lich"})
    assert response.get_json()["result"]["name"] == "diem-du-lich"
    response = api.client.get("/api/3/action/package_show", query_string={"id": "diem-du-lich"},
                              headers={"X-CKAN-API-Key": portal.member})
    assert response.status_code == 200


def test_the_api_ignores_the_session_cookie(api, portal, app):
    with api.client.session_transaction() as session:  # a logged-in browser, no token
        session["_user_id"] = db.session.scalar(db.select(User.id).where(User.name == "quan-tri"))
        session["_fresh"] = True
    assert api("package_show", id="ban-nhap")[0] == 404
    assert api("package_patch", id="diem-du-lich", title="X")[0] == 403
