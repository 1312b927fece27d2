"""The real ``ckanapi`` (Python RemoteCKAN and its command line) against the portal under gunicorn.

One throwaway SQLite instance for the module: migrated with ``opendata db upgrade``,
filled through the services, served by gunicorn (2 workers) on a free loopback port.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import ckanapi
import pytest
import requests

from opendata import create_app
from opendata.accounts.services import create_token, system_actor
from opendata.catalog.services import sync_vocabularies
from opendata.extensions import db
from tests.factories import make_agency, make_dataset, make_file_resource, make_user

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CSV = "Xã/phường,Số điểm phát Wi-Fi\n".encode() + b"".join(f"Xa {n},{n * 3}\n".encode() for n in range(200))


@dataclass
class Site:
    url: str
    editor: str  # editor of so-y-te
    outsider: str  # editor of so-du-lich
    names: list[str]  # published datasets
    env: dict[str, str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fill(env: dict[str, str]) -> tuple[str, str, list[str]]:
    """Agencies, editors with tokens and a few published datasets, through the services."""
    app = create_app({"INSTANCE": env["OPENDATA_INSTANCE"], "TASK_QUEUE": "immediate"})
    with app.app_context():
        sync_vocabularies()
        system = system_actor()
        health, tourism = make_agency(system, name="so-y-te"), make_agency(system, name="so-du-lich")
        editor = make_user(system, health, "editor", name="bien-tap-y-te")
        outsider = make_user(system, tourism, "editor", name="bien-tap-du-lich")
        names = []
        for n, agency in enumerate([health, health, tourism]):
            dataset = make_dataset(system, agency, title=f"Điểm phát Wi-Fi công cộng {n}", tags=["wi-fi"])
            make_file_resource(system, dataset, CSV, filename=f"wifi-{n}.csv")
            names.append(dataset.name)
        tokens = create_token(system, editor, "ckanapi")[1], create_token(system, outsider, "ckanapi")[1]
        db.session.remove()
        db.engine.dispose()
    return *tokens, sorted(names)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    instance = tmp_path_factory.mktemp("ckan-instance")
    port = _free_port()
    env = {**os.environ, "OPENDATA_INSTANCE": str(instance), "OPENDATA_TASK_QUEUE": "immediate",
           "OPENDATA_SITE_URL": f"http://127.0.0.1:{port}", "OPENDATA_RATE_LIMIT_ENABLED": "false",
           "CKANAPI_MY_SITES": "127.0.0.1",
           # ckanapi dump and load run their workers as `ckanapi` from PATH.
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([str(BIN / "opendata"), "db", "upgrade"], env=env, cwd=REPO, check=True, capture_output=True)
    editor, outsider, names = _fill(env)
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         "--chdir", str(REPO), "wsgi:app"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(url + "/api/util/status", timeout=10).ok:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("gunicorn did not start: " + server.stderr.read1().decode(errors="replace"))
            time.sleep(0.2)
        yield Site(url, editor, outsider, names, env)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def _cli(site: Site, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    command = [str(BIN / "ckanapi"), *args, "-r", site.url] + (["-a", token] if token else [])
    return subprocess.run(command, env=site.env, capture_output=True, text=True, timeout=60)


def test_remote_ckan_lists_searches_and_shows(site):
    with ckanapi.RemoteCKAN(site.url) as portal:
        assert portal.action.package_list() == site.names
        assert portal.action.status_show()["ckan_version"].startswith("2.")
        found = portal.action.package_search(fq="organization:so-y-te -tags:khac", sort="id asc", rows=100)
        assert found["count"] == 2 and all(p["organization"]["name"] == "so-y-te" for p in found["results"])
        facets = portal.action.package_search(q="wi-fi", **{"facet.field": ["organization", "res_format"]})
        assert facets["facets"]["organization"] == {"so-y-te": 2, "so-du-lich": 1}
        package = portal.action.package_show(id=site.names[0])
        assert package["resources"][0]["url"].startswith(site.url + "/dataset/")
        assert sorted(portal.action.organization_list()) == ["so-du-lich", "so-y-te"]
        with pytest.raises(ckanapi.NotFound):
            portal.action.package_show(id="khong-co-bo-nay")
        with pytest.raises(ckanapi.SearchQueryError):
            portal.action.package_search(fq="title:wifi")
        with pytest.raises(ckanapi.CKANAPIError):
            portal.call_action("package_frobnicate")
    with ckanapi.RemoteCKAN(site.url, get_only=True) as portal:  # the same over GET
        assert portal.action.package_search(fq="organization:so-du-lich")["count"] == 1


def test_create_upload_and_download_byte_for_byte(site, tmp_path):
    source = tmp_path / "diem-wifi.csv"
    source.write_bytes(CSV)
    with ckanapi.RemoteCKAN(site.url, apikey=site.editor) as portal:
        package = portal.action.package_create(
            name="wifi-moi", title="Điểm Wi-Fi mới", notes="Danh sách điểm phát mới lắp.", owner_org="so-y-te",
            license_id="cc-by", tags=[{"name": "wi-fi"}], groups=[{"name": "hanh-chinh-cong"}])
        assert package["state"] == "draft" and package["private"] is True
        with source.open("rb") as handle:
            resource = portal.action.resource_create(package_id="wifi-moi", name="Điểm mới", upload=handle)
        assert resource["url_type"] == "upload" and resource["size"] == len(CSV)
        assert resource["hash"] == hashlib.sha256(CSV).hexdigest()
        # the draft's file downloads with the token (ckanapi's own session sends it), and not without
        download = portal.session.get(resource["url"], headers={"Authorization": site.editor})
        assert download.status_code == 200 and download.content == CSV
        assert requests.get(resource["url"]).status_code == 404
        shown = portal.action.package_show(id="wifi-moi")
        assert [r["id"] for r in shown["resources"]] == [resource["id"]]
        with pytest.raises(ckanapi.ValidationError) as refused:
            portal.action.package_create(name="Không hợp lệ", owner_org="so-y-te")
        assert "name" in refused.value.error_dict and "title" in refused.value.error_dict
    with ckanapi.RemoteCKAN(site.url) as anonymous:
        with pytest.raises(ckanapi.NotFound):
            anonymous.action.package_show(id="wifi-moi")


def test_wrong_token_and_foreign_agency_are_refused(site):
    with ckanapi.RemoteCKAN(site.url, apikey="odl_not-a-real-token") as portal:
        with pytest.raises(ckanapi.NotAuthorized):
            portal.action.package_list()
    with ckanapi.RemoteCKAN(site.url, apikey=site.outsider) as portal:
        with pytest.raises(ckanapi.NotAuthorized):
            portal.action.package_create(name="xam-nhap", title="X", notes="X", owner_org="so-y-te", license_id="cc-by")
        with pytest.raises(ckanapi.NotAuthorized):
            portal.action.package_patch(id=_health_dataset(site), title="Bị sửa")
        with pytest.raises(ckanapi.NotAuthorized):
            portal.action.resource_create(package_id=_health_dataset(site), upload=io.BytesIO(CSV))


def _health_dataset(site: Site) -> str:
    found = requests.get(site.url + "/api/3/action/package_search", params={"fq": "organization:so-y-te"}).json()
    return found["result"]["results"][0]["name"]


def test_cli_action_dump_and_load(site, tmp_path):
    listed = _cli(site, "action", "package_list")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == site.names
    dump = tmp_path / "datasets.jsonl"
    dumped = _cli(site, "dump", "datasets", "--all", "-q", "-O", str(dump))
    assert dumped.returncode == 0, dumped.stderr
    records = [json.loads(line) for line in dump.read_text().splitlines()]
    assert sorted(record["name"] for record in records) == site.names
    assert all(record["resources"] and record["resources"][0]["hash"] for record in records)
    # load: one new dataset and one existing one of the editor's agency, updated from the dump
    existing = next(record for record in records if record["organization"]["name"] == "so-y-te")
    existing["notes"] = "Cập nhật qua ckanapi load."
    new = {"name": "wifi-nap", "title": "Wi-Fi nạp bằng ckanapi", "notes": "Nạp từ tệp JSON lines.",
           "owner_org": "so-y-te", "license_id": "cc-by", "tags": [{"name": "wi-fi"}]}
    source = tmp_path / "load.jsonl"
    source.write_text(json.dumps(existing, ensure_ascii=False) + "\n" + json.dumps(new, ensure_ascii=False) + "\n")
    loaded = _cli(site, "load", "datasets", "-I", str(source), token=site.editor)
    assert loaded.returncode == 0, loaded.stderr
    with ckanapi.RemoteCKAN(site.url, apikey=site.editor) as portal:
        assert portal.action.package_show(id=existing["name"])["notes"] == "Cập nhật qua ckanapi load."
        assert portal.action.package_show(id="wifi-nap")["state"] == "draft"
