"""The province's sample datasets in datasets/: complete, faithful to their files, loadable twice."""

import csv
import hashlib
import io
import json
import unicodedata
from pathlib import Path

import openpyxl
import pytest
import yaml

from opendata.catalog import samples
from opendata.catalog.models import Agency, Dataset, DatasetState
from opendata.datastore import ingest
from opendata.extensions import db

ROOT = samples.DEFAULT_PATH
METADATA = sorted(ROOT.glob("*/dataset.yaml"))


def _header(path: Path) -> list[str]:
    if path.suffix == ".csv":
        return next(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    if path.suffix == ".xlsx":
        sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
        return [cell for cell in next(sheet.iter_rows(values_only=True))]
    rows = json.loads(path.read_text(encoding="utf-8"))
    return list(rows[0].keys())


def test_the_catalogue_is_large_enough():
    agencies = yaml.safe_load((ROOT / "agencies.yaml").read_text(encoding="utf-8"))
    publishers = {yaml.safe_load(path.read_text(encoding="utf-8"))["agency"] for path in METADATA}
    assert len(METADATA) >= 15
    assert len(publishers) >= 12 and publishers <= {agency["name"] for agency in agencies}
    formats = {resource["format"] for path in METADATA
               for resource in yaml.safe_load(path.read_text(encoding="utf-8"))["resources"]}
    assert {"CSV", "XLSX", "JSON", "GeoJSON"} <= formats


@pytest.mark.parametrize("path", METADATA, ids=lambda path: path.parent.name)
def test_each_sample_is_sourced_nfc_and_matches_its_files(path):
    text = path.read_text(encoding="utf-8")
    assert unicodedata.is_normalized("NFC", text)
    meta = yaml.safe_load(text)
    assert meta["name"] == path.parent.name
    assert "Đề án" in meta["source"]  # every figure traces to the plan
    for resource in meta["resources"]:
        file = path.parent / resource["file"]
        assert file.is_file(), file
        if resource["format"] == "GeoJSON":
            assert json.loads(file.read_text(encoding="utf-8"))["type"] == "FeatureCollection"
            continue
        columns = [field["name"] for field in resource["schema"]["fields"]]
        assert _header(file) == columns, file.name


def test_loading_publishes_every_sample_with_true_checksums_and_twice_changes_nothing(app, client, system):
    first = samples.load_samples(system)
    assert len(first.datasets_created) == len(METADATA)
    datasets = db.session.query(Dataset).all()
    assert all(dataset.state == DatasetState.PUBLISHED for dataset in datasets)
    for dataset in datasets:
        folder = ROOT / dataset.name
        meta = yaml.safe_load((folder / "dataset.yaml").read_text(encoding="utf-8"))
        for resource, entry in zip(dataset.resources, meta["resources"], strict=True):
            expected = hashlib.sha256((folder / entry["file"]).read_bytes()).hexdigest()
            assert resource.sha256 == expected
            page = client.get(f"/dataset/{dataset.name}").get_data(as_text=True)
            assert expected in page
            download = client.get(f"/dataset/{dataset.name}/resource/{resource.id}/download/{resource.filename}")
            assert hashlib.sha256(download.data).hexdigest() == expected
    second = samples.load_samples(system)
    assert second.datasets_created == [] and second.agencies_created == []
    assert db.session.query(Dataset).count() == len(METADATA)
    assert db.session.query(Agency).count() == len(first.agencies_created)


def test_every_sample_table_is_loaded_queryable_and_previewed(app, client, system):
    samples.load_samples(system)
    tables = 0
    for dataset in db.session.query(Dataset).all():
        for resource in dataset.resources:
            page = client.get(f"/dataset/{dataset.name}/resource/{resource.id}").get_data(as_text=True)
            table = ingest.table_of(resource)
            if resource.format == "GeoJSON":
                assert "data-geojson-url" in page, resource.filename
                continue
            if table is None:
                continue
            assert table.status == "done", (resource.filename, table.report)
            assert table.report["valid"], (resource.filename, table.report["errors"][:3])
            rows = client.get(f"/api/v1/resources/{resource.id}/rows?limit=1000").get_json()
            assert rows["total"] == table.rows == len(rows["records"]) > 0, resource.filename
            assert [field["id"] for field in rows["fields"]] == [f["name"] for f in resource.schema["fields"]]
            assert f'data-rows-url="/api/v1/resources/{resource.id}/rows"' in page, resource.filename
            tables += 1
    assert tables >= 30
