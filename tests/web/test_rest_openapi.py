"""The OpenAPI 3.1 document of the REST API: valid, complete, and true to what the API answers (schemathesis)."""

from __future__ import annotations

import copy
import io
import random
import uuid

import pytest
import schemathesis
from flask import g
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import (
    content_type_conformance, not_a_server_error, response_schema_conformance, status_code_conformance,
)

from sqlalchemy import select

from opendata.accounts.services import create_token
from opendata.catalog.models import Resource
from opendata.extensions import db
from opendata.catalog import resources
from tests.factories import make_agency, make_dataset, make_user

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SETTINGS = settings(max_examples=10, derandomize=True, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck))


def test_the_document_is_valid_openapi_3_1(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
    document = response.get_json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert client.get("/api/v1/openapi.json", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_every_route_is_documented_and_schemas_come_from_the_metadata_schema(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method.upper()) for path, operations in document["paths"].items() for method in operations}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json":
            path = rule.rule.replace("<", "{").replace(">", "}")
            path = path.replace("{any(submit, approve, reject, publish, withdraw, restore, delete, purge):", "{")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (path, method) in documented, (path, method)
    dataset = document["components"]["schemas"]["Dataset"]
    assert dataset["additionalProperties"] is False
    assert dataset["properties"]["access_level"]["title"] == "Phân loại theo chia sẻ"  # the YAML's label
    assert "dct:accessRights" in dataset["properties"]["access_level"]["description"]
    assert dataset["properties"]["id"]["readOnly"] is True
    assert dataset["properties"]["update_frequency"]["type"] == ["string", "null"]
    assert set(dataset["required"]) == {"title", "notes", "agency", "license_id"}
    listing = document["paths"]["/api/v1/datasets"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {
        "q", "organization", "groups", "tags", "res_format", "license_id", "update_frequency", "year",
        "sort", "page", "per_page", "include_private"}
    assert set(listing["responses"]) >= {"200", "304", "400", "401", "429"}
    transition = document["paths"]["/api/v1/datasets/{name}/{transition}"]["post"]
    assert "409" in transition["responses"] and "submit" in transition["parameters"][1]["schema"]["enum"]


# --- schemathesis ------------------------------------------------------------------------------

@pytest.fixture
def catalogue(app, system):
    """A small catalogue, and an agency admin's token for the writes."""
    # Hundreds of requests from one address: the limiter (tested in test_rest_api) would cut the run short.
    app.config.update(API_RATE_LIMIT="100000/minute", API_RATE_LIMIT_TOKEN="100000/minute")
    agency = make_agency(system, name="so-y-te", title="Sở Y tế")
    dataset = make_dataset(system, agency, name="tram-y-te", title="Trạm y tế", tags=["y tế"])
    resources.add_resource(system, dataset, {"name": "Trạm"},
                           resources.Upload(io.BytesIO("Xã,Số trạm\nLâm Viên,3\n".encode()), "tram.csv"))
    make_dataset(system, agency, published=False, name="ban-nhap", title="Bản nháp")
    admin = make_user(system, agency, "admin", name="quan-tri")
    make_user(system, agency, "editor", name="bien-tap")
    token = create_token(system, admin, "schemathesis")[1]
    return {"Authorization": f"Bearer {token}"}


def _with_known_objects(document: dict, choices: dict[str, list[str]]) -> dict:
    """The document with each path parameter limited to objects that exist (and one that does not).

    Random names almost always answer 404; drawing from these lets the generated bodies
    and parameters reach the handlers' real work (validation, services, the workflow).
    """
    document = copy.deepcopy(document)
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "path":
                    continue
                key = "agency" if path.startswith("/api/v1/agencies/") and parameter["name"] == "name" else \
                    "theme" if path.startswith("/api/v1/themes/") else parameter["name"]
                if key in choices:
                    parameter["schema"] = {"type": "string", "enum": choices[key]}
    return document


def _schema(app, document: dict):
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    return schema


@pytest.fixture
def rest_schema(app, client, catalogue):
    """The document exactly as served."""
    return _schema(app, client.get("/api/v1/openapi.json").get_json())


@pytest.fixture
def known_schema(app, client, catalogue):
    """The document with path parameters drawn from the catalogue's objects."""
    resource_id = db.session.scalar(select(Resource.id))
    return _schema(app, _with_known_objects(client.get("/api/v1/openapi.json").get_json(), {
        "name": ["tram-y-te", "ban-nhap", "khong-co"], "agency": ["so-y-te", "khong-co"],
        "theme": ["y-te", "khong-co"], "user": ["quan-tri", "bien-tap", "khong-co"],
        "resource_id": [resource_id, "khong-co"], "token_id": ["khong-co"],
    }))


def _call(case, headers=None):
    # The tests keep one app context, so ``g`` would carry a caller over from the previous request.
    g.pop("api_actor", None)
    g.pop("_login_user", None)
    # Hypothesis seeds the global ``random`` alike for every example, and Whoosh names its
    # segments with it: two commits would then pick the same segment name (an AssertionError
    # in whoosh's create_compound_file). Generation does not use this generator.
    random.seed(uuid.uuid4().int)
    response = case.call(headers=headers)
    case.validate_response(response, checks=CHECKS)
    return response


def _run(schema, headers=None) -> int:
    """Each operation through Hypothesis with a bounded, derandomized budget; returns the operations run.

    Schemathesis' own pytest integration (``schemathesis.pytest.from_fixture``) fails under
    pytest 9 (``'Function' object has no attribute '_nodeid'``), so the strategies are driven here.
    """
    count = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @SETTINGS
        def check(case):
            _call(case, headers)

        check()
        count += 1
    return count


def test_reads_answer_what_the_document_says(rest_schema):
    assert _run(rest_schema.include(method="GET")) >= 15


def test_every_operation_with_a_token_answers_what_the_document_says(known_schema, catalogue):
    assert _run(known_schema, headers=catalogue) >= 30
