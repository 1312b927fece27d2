"""A dataset's files as one streamed ZIP with a Frictionless datapackage.json, and the descriptor alone."""

import hashlib
import io
import json
import zipfile
from urllib.parse import urlsplit

import pytest

from opendata.datastore.types import MISSING_VALUES
from frictionless import Package

from opendata.accounts.services import create_token
from opendata.catalog import resources
from opendata.extensions import db
from tests.factories import make_agency, make_dataset, make_file_resource, make_user

CSV = ("Xã/phường,Số hộ,Tỷ lệ\n" + "".join(f"Xã số {n},{n * 7},{n / 10:.1f}\n" for n in range(200))).encode()
GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"ten": "Đà Lạt"}, "geometry": {"type": "Point", "coordinates": [108.44, 11.94]}}]},
    ensure_ascii=False).encode()
CCCD_CSV = ("Họ và tên,Số CCCD,Xã\n"
            "Nguyễn Văn An,068095001234,Xuân Hương\n"
            "Trần Thị Bình,068196004321,Lâm Viên\n").encode()
TABLE_SCHEMA = {"fields": [
    {"name": "Xã/phường", "type": "string", "description": "Tên đơn vị hành chính"},
    {"name": "Số hộ", "type": "integer"},
    {"name": "Tỷ lệ", "type": "number"},
]}


@pytest.fixture
def agency(system):
    return make_agency(system, title="Sở Khoa học và Công nghệ", email="sokhcn@lamdong.gov.vn")


@pytest.fixture
def dataset(system, agency):
    """Two files (Vietnamese names, one with a data dictionary) and a link."""
    dataset = make_dataset(system, agency, title="Hộ gia đình theo xã năm 2025", tags=["dân số", "hộ gia đình"],
                           source="Điều tra dân số giữa kỳ 2025", contact_name="Phòng Thống kê",
                           contact_email="thongke@lamdong.gov.vn", version="1.2")
    table = make_file_resource(system, dataset, CSV, filename="Số hộ theo xã 2025.csv", name="Số hộ theo xã")
    resources.update_resource(system, dataset, table, {"schema": TABLE_SCHEMA})
    make_file_resource(system, dataset, GEOJSON, filename="Ranh giới Đà Lạt.geojson", name="Ranh giới")
    resources.add_resource(system, dataset, {"name": "Trang nguồn", "url": "https://example.org/du-lieu/bao-cao.pdf"})
    return dataset


def _zip(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.data[:300]
    return zipfile.ZipFile(io.BytesIO(response.data))


def _descriptor(archive: zipfile.ZipFile) -> dict:
    return json.loads(archive.read("datapackage.json").decode("utf-8"))


def test_zip_holds_the_files_and_a_descriptor(client, dataset):
    response = client.get(f"/dataset/{dataset.name}/download.zip")
    assert response.is_streamed and "Content-Length" not in response.headers
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{dataset.name}.zip"'
    archive = _zip(response)
    assert archive.testzip() is None
    assert archive.namelist() == ["datapackage.json", "data/Số hộ theo xã 2025.csv", "data/Ranh giới Đà Lạt.geojson"]
    assert archive.read("data/Số hộ theo xã 2025.csv") == CSV
    assert archive.read("data/Ranh giới Đà Lạt.geojson") == GEOJSON
    # Names are stored as UTF-8 (flag bit 11), so every unzip tool shows the diacritics.
    assert all(info.flag_bits & 0x800 for info in archive.infolist()[1:])
    assert archive.getinfo("data/Số hộ theo xã 2025.csv").compress_type == zipfile.ZIP_DEFLATED

    package = _descriptor(archive)
    assert package["name"] == dataset.name and package["id"] == dataset.id
    assert package["title"] == "Hộ gia đình theo xã năm 2025"
    assert package["description"] == dataset.notes
    assert package["homepage"] == f"http://localhost/dataset/{dataset.name}"
    assert package["version"] == "1.2"
    assert package["created"].endswith("Z")
    assert sorted(package["keywords"]) == ["dân số", "hộ gia đình"]
    assert package["licenses"] == [{"name": "cc-by", "title": dataset.license.title, "path": dataset.license.url}]
    assert package["sources"][0] == {"title": "Điều tra dân số giữa kỳ 2025"}
    assert package["sources"][1]["path"] == package["homepage"]
    assert package["contributors"] == [
        {"title": "Sở Khoa học và Công nghệ", "role": "publisher", "email": "sokhcn@lamdong.gov.vn",
         "path": f"http://localhost/organization/{dataset.agency.name}"},
        {"title": "Phòng Thống kê", "email": "thongke@lamdong.gov.vn", "role": "maintainer"},
    ]
    table, shape, link = package["resources"]
    assert table == {
        "name": "so-ho-theo-xa", "title": "Số hộ theo xã", "path": "data/Số hộ theo xã 2025.csv",
        "format": "csv", "mediatype": "text/csv", "bytes": len(CSV),
        "hash": "sha256:" + hashlib.sha256(CSV).hexdigest(), "encoding": "utf-8",
        # The dictionary as written, over what loading the table inferred (the nulls it recognises).
        "schema": {**TABLE_SCHEMA, "missingValues": list(MISSING_VALUES)},
    }
    assert shape["path"] == "data/Ranh giới Đà Lạt.geojson" and shape["format"] == "geojson"
    assert shape["hash"] == "sha256:" + hashlib.sha256(GEOJSON).hexdigest() and shape["bytes"] == len(GEOJSON)
    assert "schema" not in shape
    assert link == {"name": "trang-nguon", "title": "Trang nguồn", "path": "https://example.org/du-lieu/bao-cao.pdf",
                    "format": "pdf"}


def test_the_extracted_package_validates_with_frictionless(client, system, agency, tmp_path):
    dataset = make_dataset(system, agency, title="Bảng số liệu")
    table = make_file_resource(system, dataset, CSV, filename="số liệu.csv")
    resources.update_resource(system, dataset, table, {"schema": TABLE_SCHEMA})
    make_file_resource(system, dataset, GEOJSON, filename="bản đồ.geojson")
    _zip(client.get(f"/dataset/{dataset.name}/download.zip")).extractall(tmp_path)
    # Reads every file: bytes and sha256 against the descriptor, rows against the Table Schema.
    report = Package(str(tmp_path / "datapackage.json")).validate()
    assert report.valid, report.flatten(["type", "note"])


def test_descriptors_are_valid_data_packages(client, dataset):
    for descriptor in (_descriptor(_zip(client.get(f"/dataset/{dataset.name}/download.zip"))),
                       client.get(f"/dataset/{dataset.name}/datapackage.json").get_json()):
        errors = Package.metadata_validate(descriptor)
        assert not list(errors), [error.note for error in Package.metadata_validate(descriptor)]


def test_same_names_become_unique(client, system, agency):
    dataset = make_dataset(system, agency)
    for filename in ("Báo cáo.csv", "báo cáo.csv", "Báo cáo.csv"):
        make_file_resource(system, dataset, CSV, filename=filename, name="Báo cáo")
    archive = _zip(client.get(f"/dataset/{dataset.name}/download.zip"))
    assert archive.namelist()[1:] == ["data/Báo cáo.csv", "data/báo cáo (2).csv", "data/Báo cáo (3).csv"]
    assert [item["name"] for item in _descriptor(archive)["resources"]] == ["bao-cao", "bao-cao-2", "bao-cao-3"]


def test_standalone_descriptor_points_at_the_downloads(client, dataset):
    response = client.get(f"/dataset/{dataset.name}/datapackage.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    package = response.get_json()
    table, shape, link = package["resources"]
    assert link["path"] == "https://example.org/du-lieu/bao-cao.pdf"
    for entry, content in ((table, CSV), (shape, GEOJSON)):
        url = urlsplit(entry["path"])
        assert url.scheme == "http" and url.netloc == "localhost"
        download = client.get(url.path)
        assert download.status_code == 200 and download.data == content
        assert entry["hash"] == "sha256:" + hashlib.sha256(download.data).hexdigest()
    assert {key: value for key, value in package.items() if key != "resources"} == {
        key: value for key, value in _descriptor(_zip(client.get(f"/dataset/{dataset.name}/download.zip"))).items()
        if key != "resources"}


def test_unpublished_dataset_needs_a_member_token(client, system, agency):
    draft = make_dataset(system, agency, published=False)
    make_file_resource(system, draft, CSV, filename="nháp.csv")
    for path in (f"/dataset/{draft.name}/download.zip", f"/dataset/{draft.name}/datapackage.json"):
        assert client.get(path).status_code == 404
    outsider = make_user(system, make_agency(system), "admin")
    _, outsider_secret = create_token(system, outsider, "t")
    assert client.get(f"/dataset/{draft.name}/download.zip",
                      headers={"Authorization": f"Bearer {outsider_secret}"}).status_code == 404
    member = make_user(system, agency, "member")
    _, secret = create_token(system, member, "t")
    response = client.get(f"/dataset/{draft.name}/download.zip", headers={"X-CKAN-API-Key": secret})
    assert _zip(response).read("data/nháp.csv") == CSV
    assert "private" in response.headers["Cache-Control"]
    descriptor = client.get(f"/dataset/{draft.name}/datapackage.json", headers={"Authorization": secret})
    assert descriptor.status_code == 200 and "Access-Control-Allow-Origin" not in descriptor.headers


def test_files_the_gate_has_not_cleared_are_left_out_for_readers(client, system, agency):
    dataset = make_dataset(system, agency)
    make_file_resource(system, dataset, CSV, filename="tong-hop.csv")
    flagged = make_file_resource(system, dataset, CCCD_CSV, filename="danh-sach.csv")  # added after publication
    with pytest.raises(Exception):
        resources.require_download(None, flagged)
    archive = _zip(client.get(f"/dataset/{dataset.name}/download.zip"))
    assert archive.namelist() == ["datapackage.json", "data/tong-hop.csv"]
    assert [item["path"] for item in _descriptor(archive)["resources"]] == ["data/tong-hop.csv"]
    standalone = client.get(f"/dataset/{dataset.name}/datapackage.json").get_json()
    assert len(standalone["resources"]) == 1
    editor = make_user(system, agency, "editor")
    _, secret = create_token(system, editor, "t")
    archive = _zip(client.get(f"/dataset/{dataset.name}/download.zip", headers={"Authorization": f"Bearer {secret}"}))
    assert archive.read("data/danh-sach.csv") == CCCD_CSV


def test_a_dataset_without_files_is_still_a_valid_zip(client, system, agency):
    dataset = make_dataset(system, agency)
    archive = _zip(client.get(f"/dataset/{dataset.name}/download.zip"))
    assert archive.namelist() == ["datapackage.json"] and _descriptor(archive)["resources"] == []


def test_each_file_counts_one_download_and_head_counts_none(client, dataset):
    client.head(f"/dataset/{dataset.name}/download.zip")
    client.get(f"/dataset/{dataset.name}/download.zip")
    db.session.refresh(dataset)
    uploads = [resource for resource in dataset.resources if resource.is_upload]
    assert [resource.download_count for resource in uploads] == [1, 1]
    assert dataset.download_count == 2


def test_missing_dataset_is_404(client):
    assert client.get("/dataset/khong-co/download.zip").status_code == 404
    assert client.get("/dataset/khong-co/datapackage.json").status_code == 404


def test_dataset_page_links_to_both(client, dataset):
    page = client.get(f"/dataset/{dataset.name}").get_data(as_text=True)
    assert f'href="/dataset/{dataset.name}/download.zip"' in page and "Tải tất cả (ZIP)" in page
    assert f'href="/dataset/{dataset.name}/datapackage.json"' in page
