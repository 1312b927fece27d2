import hashlib
from urllib.parse import quote

import pytest

from opendata.accounts.services import create_token
from opendata.extensions import db
from tests.factories import make_agency, make_dataset, make_file_resource, make_user

CONTENT = ("Xã/phường,Số trạm BTS\n" + "".join(f"Xã số {n},{n}\n" for n in range(500))).encode()


@pytest.fixture
def resource(system):
    dataset = make_dataset(system, make_agency(system), title="Trạm BTS")
    return make_file_resource(system, dataset, CONTENT, filename="Trạm BTS năm 2025.csv")


def _url(resource):
    return f"/dataset/{resource.dataset.name}/resource/{resource.id}/download/{quote(resource.filename)}"


def test_full_download_matches_checksum_and_headers(client, resource):
    response = client.get(_url(resource))
    assert response.status_code == 200
    assert hashlib.sha256(response.data).hexdigest() == resource.sha256
    assert response.headers["Content-Length"] == str(len(CONTENT))
    assert response.headers["ETag"] == f'"{resource.sha256}"'
    assert response.headers["Accept-Ranges"] == "bytes"
    assert "Last-Modified" in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''" + quote("Trạm BTS năm 2025.csv") in disposition


def test_range_request_returns_exactly_the_bytes(client, resource):
    response = client.get(_url(resource), headers={"Range": "bytes=10-99"})
    assert response.status_code == 206
    assert response.data == CONTENT[10:100]
    assert response.headers["Content-Range"] == f"bytes 10-99/{len(CONTENT)}"
    suffix = client.get(_url(resource), headers={"Range": "bytes=-20"})
    assert suffix.status_code == 206 and suffix.data == CONTENT[-20:]


def test_unsatisfiable_range_is_416(client, resource):
    response = client.get(_url(resource), headers={"Range": f"bytes={len(CONTENT) + 10}-"})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(CONTENT)}"


def test_head_and_conditional_requests(client, resource):
    head = client.head(_url(resource))
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(CONTENT))
    not_modified = client.get(_url(resource), headers={"If-None-Match": f'"{resource.sha256}"'})
    assert not_modified.status_code == 304 and not_modified.data == b""


def test_downloads_are_counted_once_per_download(client, resource):
    client.get(_url(resource))
    client.get(_url(resource), headers={"Range": "bytes=0-9"})   # a download manager's first chunk
    client.get(_url(resource), headers={"Range": "bytes=10-19"})  # its next chunk: not a new download
    client.head(_url(resource))
    client.get(_url(resource), headers={"If-None-Match": f'"{resource.sha256}"'})
    db.session.refresh(resource)
    assert resource.download_count == 2
    assert resource.dataset.download_count == 2


def test_unpublished_files_need_a_member_token(client, system):
    agency = make_agency(system)
    draft = make_dataset(system, agency, published=False)
    resource = make_file_resource(system, draft, b"secret,1\n", filename="nhap.csv")
    assert client.get(_url(resource)).status_code == 404
    member = make_user(system, agency, "member")
    _, secret = create_token(system, member, "t")
    response = client.get(_url(resource), headers={"X-CKAN-API-Key": secret})
    assert response.status_code == 200 and response.data == b"secret,1\n"
    assert "private" in response.headers["Cache-Control"]


def test_active_content_is_never_served_inline(client, system):
    dataset = make_dataset(system, make_agency(system))
    resource = make_file_resource(system, dataset, b"<svg onload=alert(1)></svg>", filename="anh.svg")
    response = client.get(_url(resource))
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment")


def test_wrong_resource_or_dataset_is_404(client, system, resource):
    other = make_dataset(system, make_agency(system))
    assert client.get(f"/dataset/{other.name}/resource/{resource.id}/download/x.csv").status_code == 404
    assert client.get(f"/dataset/{resource.dataset.name}/resource/nope/download/x.csv").status_code == 404
