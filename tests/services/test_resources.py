import hashlib
import io

import pytest

from opendata.catalog import resources, services
from opendata.catalog.models import Resource
from opendata.errors import PayloadTooLarge, ValidationFailed
from opendata.extensions import db
from tests.factories import make_agency, make_dataset, make_file_resource


@pytest.fixture
def dataset(system):
    return make_dataset(system, make_agency(system))


def _stored_files(app):
    root = services.file_store().root
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_upload_is_checksummed_and_stored(app, system, dataset):
    content = "Xã,Số trạm\nĐà Lạt,12\n".encode()
    resource = make_file_resource(system, dataset, content, filename="../../Trạm BTS.csv")
    assert resource.sha256 == hashlib.sha256(content).hexdigest()
    assert resource.size == len(content)
    assert resource.filename == "Trạm BTS.csv"
    assert resource.format == "CSV" and resource.media_type == "text/csv"
    assert services.file_store().path(resource.storage_key).read_bytes() == content


def test_link_resource_needs_a_url_or_a_file_not_both(system, dataset):
    link = resources.add_resource(system, dataset, {"name": "Cổng dịch vụ công", "url": "https://dichvucong.gov.vn/a.json"})
    assert link.format == "JSON" and link.storage_key is None
    with pytest.raises(ValidationFailed):
        resources.add_resource(system, dataset, {"name": "Không có gì"})
    with pytest.raises(ValidationFailed):
        resources.add_resource(system, dataset, {"name": "Cả hai", "url": "https://example.org/x.csv"},
                              resources.Upload(io.BytesIO(b"a"), "x.csv"))


def test_too_large_upload_leaves_no_file(app, system, dataset):
    app.config["MAX_UPLOAD_SIZE"] = 10
    with pytest.raises(PayloadTooLarge):
        make_file_resource(system, dataset, b"x" * 100)
    db.session.rollback()
    assert _stored_files(app) == []
    assert db.session.query(Resource).count() == 0


def test_failed_commit_removes_the_stored_file(app, system, dataset, monkeypatch):
    def broken_commit():
        raise RuntimeError("database went away")

    monkeypatch.setattr(db.session, "commit", broken_commit)
    with pytest.raises(RuntimeError):
        make_file_resource(system, dataset, b"a,b\n1,2\n")
    monkeypatch.undo()
    assert _stored_files(app) == []
    assert db.session.query(Resource).count() == 0


def test_data_dictionary_is_validated(system, dataset):
    with pytest.raises(ValidationFailed) as caught:
        make_file_resource(system, dataset, b"a\n1\n", schema={"fields": [{"name": "a", "type": "money"}]})
    assert "schema" in caught.value.fields


def test_download_count_is_incremented_in_the_database(system, dataset):
    resource = make_file_resource(system, dataset, b"a\n")
    resources.count_download(resource)
    resources.count_download(resource)
    db.session.refresh(resource)
    db.session.refresh(dataset)
    assert resource.download_count == 2 and dataset.download_count == 2
