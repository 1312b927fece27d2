"""The stored document of a dataset stays equal to a fresh build after every change."""

import io

import pytest

from opendata.catalog import resources, services, workflow
from opendata.catalog.document import build_document
from opendata.catalog.metadata import load_vocabularies
from opendata.catalog.models import Theme
from opendata.extensions import db
from tests.factories import make_agency, make_dataset


@pytest.fixture
def dataset(system):
    return make_dataset(system, make_agency(system), themes=["du-lich"], tags=["đà lạt"], published=False)


def _fresh(dataset):
    db.session.expire_all()
    return build_document(dataset)


def test_document_follows_every_service_change(system, dataset):
    assert dataset.document == _fresh(dataset)
    services.update_dataset(system, dataset, {"license_id": "odc-odbl", "themes": ["y-te"], "version": "2"}, partial=True)
    assert dataset.document["license"]["id"] == "odc-odbl"
    assert dataset.document["themes"] == [{"name": "y-te", "title": "Y tế"}]
    assert dataset.document == _fresh(dataset)
    resources.add_resource(system, dataset, {"name": "Bảng", "description": "**Mô tả**"},
                          resources.Upload(io.BytesIO(b"a,b\n"), "bang.csv"))
    assert dataset.document["resources"][0]["description_html"] == "<p><strong>Mô tả</strong></p>\n"
    assert dataset.document == _fresh(dataset)
    workflow.publish(system, dataset)
    assert dataset.document["is_published"] is True
    assert dataset.document == _fresh(dataset)


def test_renaming_a_theme_in_the_vocabulary_rebuilds_the_documents(system, dataset, monkeypatch):
    vocabularies = load_vocabularies()
    renamed = {**vocabularies, "themes": [
        {**theme, "title": "Du lịch và lữ hành"} if theme["name"] == "du-lich" else theme
        for theme in vocabularies["themes"]]}
    monkeypatch.setattr(services, "load_vocabularies", lambda: renamed)
    services.sync_vocabularies()
    assert db.session.query(Theme).filter_by(name="du-lich").one().title == "Du lịch và lữ hành"
    db.session.refresh(dataset)
    assert dataset.document["themes"] == [{"name": "du-lich", "title": "Du lịch và lữ hành"}]
