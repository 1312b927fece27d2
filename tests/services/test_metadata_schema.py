"""The metadata schema is data: a field added to the YAML validates, saves and shows with no code change."""

import pytest
import yaml

from opendata.catalog import services, workflow
from opendata.catalog.metadata import DEFAULT_SCHEMA, load_metadata_schema
from opendata.errors import ValidationFailed
from tests.factories import DatasetPayload, make_agency


@pytest.fixture
def extended_schema(app, tmp_path):
    raw = yaml.safe_load(DEFAULT_SCHEMA.read_text(encoding="utf-8"))
    raw["dataset_fields"].append({
        "field_name": "budget_million_vnd",
        "label": {"vi": "Kinh phí (triệu đồng)", "en": "Budget (million VND)"},
        "type": "integer",
        "dcat": "schema:funding",
        "help": {"vi": "Tổng kinh phí thực hiện."},
    })
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    app.config["METADATA_SCHEMA"] = str(path)
    return path


def test_every_field_declares_labels_type_and_dcat_mapping():
    schema = load_metadata_schema(DEFAULT_SCHEMA)
    required = {"title", "notes", "agency", "themes", "tags", "license_id", "update_frequency", "temporal_start",
                "temporal_end", "spatial", "contact_name", "contact_email", "source", "version", "language"}
    assert required <= {spec.field_name for spec in schema.dataset_fields}
    assert {"name", "description", "format", "media_type", "size", "sha256", "schema"} <= {
        spec.field_name for spec in schema.resource_fields}
    for spec in schema.dataset_fields + schema.resource_fields:
        assert spec.label["vi"] and spec.label["en"] and spec.dcat, spec.field_name


def test_a_field_added_to_the_yaml_validates_saves_and_shows(extended_schema, client, system):
    agency = make_agency(system)
    with pytest.raises(ValidationFailed) as caught:
        services.create_dataset(system, DatasetPayload(agency=agency.name, budget_million_vnd="nhiều"))
    assert caught.value.fields == {"budget_million_vnd": ["Phải là số nguyên."]}
    dataset = services.create_dataset(system, DatasetPayload(agency=agency.name, budget_million_vnd=1886105))
    workflow.publish(system, dataset)
    assert dataset.extras["budget_million_vnd"] == 1886105
    html = client.get(f"/dataset/{dataset.name}").get_data(as_text=True)
    assert "Kinh phí (triệu đồng)" in html and "1.886.105" in html
