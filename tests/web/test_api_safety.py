"""Regression tests for API holes found in review: each failed before its fix."""

from __future__ import annotations

import io

import pytest

from opendata.accounts.services import create_token
from opendata.catalog import resources
from opendata.extensions import db
from tests.factories import make_agency, make_dataset, make_file_resource, make_user

CCCD_CSV = "Họ và tên,Số CCCD\nNguyễn Văn An,068095001234\n".encode()
CSV = "Xã,Số\nLâm Viên,12\n".encode()


@pytest.fixture
def world(system):
    agency, other = make_agency(system), make_agency(system)
    editor = make_user(system, agency, "editor")
    both = make_user(system, agency, "editor")
    from opendata.accounts.services import add_member
    add_member(system, other, both, "editor")
    root = make_user(system, is_sysadmin=True)
    published = make_dataset(system, agency, title="Điểm du lịch")
    make_file_resource(system, published, CSV, "diem.csv")
    draft = make_dataset(system, agency, published=False, title="Bản nháp")
    tokens = {name: create_token(user, user, "thử")[1] for name, user in
              {"editor": editor, "both": both, "root": root}.items()}
    return {"agency": agency, "other": other, "editor": editor, "published": published, "draft": draft,
            "tokens": tokens}


def _auth(world, who):
    return {"Authorization": f"Bearer {world['tokens'][who]}"}


def test_a_zip_holding_a_held_back_file_is_never_public(client, world):
    dataset = world["published"]
    make_file_resource(world["editor"], dataset, CCCD_CSV, "cong-dan.csv")
    answer = client.get(f"/dataset/{dataset.name}/download.zip", headers=_auth(world, "editor"))
    assert answer.status_code == 200
    assert "public" not in answer.headers["Cache-Control"] and "no-store" in answer.headers["Cache-Control"]
    assert "Authorization" in answer.headers["Vary"]


def test_include_private_false_means_published_only_even_for_a_sysadmin(client, world):
    found = client.get("/api/3/action/package_search", headers=_auth(world, "root")).get_json()["result"]
    assert world["draft"].name not in [item["name"] for item in found["results"]]
    rest = client.get("/api/v1/datasets?include_private=false", headers=_auth(world, "root")).get_json()
    assert world["draft"].name not in [item["name"] for item in rest["items"]]
    everything = client.get("/api/3/action/package_search?include_private=true", headers=_auth(world, "root"))
    assert world["draft"].name in [item["name"] for item in everything.get_json()["result"]["results"]]


def test_ckan_answers_to_a_token_stay_out_of_shared_caches(client, world):
    answer = client.get(f"/api/3/action/package_show?id={world['draft'].name}",
                        headers={"X-CKAN-API-Key": world["tokens"]["editor"]})
    assert answer.status_code == 200
    assert "private" in answer.headers["Cache-Control"] and "X-CKAN-API-Key" in answer.headers["Vary"]


def test_moving_a_published_dataset_needs_both_agencies_publishers(client, world):
    answer = client.post("/api/3/action/package_patch", headers=_auth(world, "both"),
                         json={"id": world["published"].name, "owner_org": world["other"].name})
    assert answer.status_code == 403
    db.session.refresh(world["published"])
    assert world["published"].agency_id == world["agency"].id


def test_a_bad_resource_item_changes_nothing(app, client, world):
    dataset = world["published"]
    shown = client.get(f"/api/3/action/package_show?id={dataset.name}").get_json()["result"]
    kept = resources.resource_path(dataset.resources[0])
    answer = client.post("/api/3/action/package_update", headers=_auth(world, "editor"), json={
        **shown, "title": "Tên mới", "resources": [{"url": "http://example.org/a.csv", "name": "a"},
                                                   {"url": "không phải địa chỉ", "name": "b"}]})
    assert answer.status_code == 409
    db.session.refresh(dataset)
    assert dataset.title == "Điểm du lịch" and len(dataset.resources) == 1 and kept.exists()
    created = client.post("/api/3/action/package_create", headers=_auth(world, "editor"), json={
        "name": "moi-tinh", "title": "Mới", "notes": "x", "owner_org": world["agency"].name, "license_id": "cc-by",
        "resources": [{"url": "ftp://x"}]})
    assert created.status_code == 409
    assert client.get("/api/3/action/package_show?id=moi-tinh", headers=_auth(world, "editor")).status_code == 404


def test_a_refused_resource_update_keeps_the_old_file(client, world):
    dataset = world["published"]
    resource = dataset.resources[0]
    old = resources.resource_path(resource)
    answer = client.post("/api/3/action/resource_update", headers=_auth(world, "editor"),
                         content_type="multipart/form-data",
                         data={"id": resource.id, "name": "x" * 2000, "upload": (io.BytesIO(b"a,b\n1,2\n"), "moi.csv")})
    assert answer.status_code == 409
    db.session.refresh(resource)
    assert resource.filename == "diem.csv" and old.exists()


@pytest.mark.parametrize("path, statuses", [
    ("/api/3/action/package_list?limit=" + "9" * 30, {200}),
    ("/api/3/action/current_package_list_with_resources?page=" + "9" * 30, {200}),
    ("/api/3/action/package_search?sort=id+asc&start=" + "9" * 30, {200}),
    ("/api/3/action/package_search?sort=id+asc&fq=year:0000", {400}),
    ("/api/3/action/package_search?fq=metadata_modified:[NOW-999999WEEKS TO *]", {400}),
    ("/api/3/action/package_search?fq=metadata_modified:[0001-01-01T00:00:00%2B14:00 TO *]", {400}),
])
def test_huge_numbers_and_dates_are_refused_or_empty_not_errors(client, world, path, statuses):
    assert client.get(path).status_code in statuses


def test_wrong_json_types_and_huge_bodies_are_client_errors(client, world):
    for body in ({"name": "a", "title": "A", "owner_org": ["a"]}, {"name": "a", "title": "A",
                                                                   "extras": [{"key": ["a"], "value": 1}]}):
        assert client.post("/api/3/action/package_create", headers=_auth(world, "editor"), json=body).status_code == 409
    big = b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    assert client.post("/api/3/action/status_show", data=big, content_type="application/json").status_code == 413
    far = client.post("/api/v1/me/tokens", headers=_auth(world, "editor"), json={"name": "x", "expires_on": "9999-12-31"})
    assert far.status_code == 422
