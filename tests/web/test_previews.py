"""Previews on a resource page: which kind each file gets, the inline route's refusals, the text preview."""

from __future__ import annotations

import json
import struct
import zlib
from urllib.parse import quote

import pytest

from opendata.datastore import ingest
from flask import render_template

from opendata.accounts.services import system_actor
from opendata.catalog.preview import TEXT_PREVIEW_BYTES, Chart, chart_choice, preview_kind, table_columns, text_preview
from opendata.extensions import db
from opendata.storage.encoding import encode_cp1258
from tests.conftest import make_test_app
from tests.factories import make_agency, make_dataset, make_file_resource, make_user
from tests.forms import sign_in

CCCD_TEXT = "Họ và tên Số CCCD\nNguyễn Văn An 068095001234\nTrần Thị Bình 068196004321\n".encode()
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n" \
      b"trailer<</Root 1 0 R>>\n%%EOF\n"
GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"Tên": "Chợ Đà Lạt", "Số sạp": 1200},
     "geometry": {"type": "Point", "coordinates": [108.4378, 11.9430]}},
    {"type": "Feature", "properties": {"Tên": "<b>Bảo Lộc</b>"},
     "geometry": {"type": "Point", "coordinates": [107.8079, 11.5480]}},
]}, ensure_ascii=False).encode()
PROSE = ("Văn bản hướng dẫn chuyển đổi số của tỉnh Lâm Đồng.\n"
         "Người dân được hỗ trợ sử dụng dịch vụ công trực tuyến tại xã, phường.\n")


def png() -> bytes:
    """A real one-pixel PNG: uploads are sniffed by their bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x1a\x7a\x5a")) \
        + chunk(b"IEND", b"")


@pytest.fixture
def agency(system):
    return make_agency(system)


@pytest.fixture
def dataset(system, agency):
    return make_dataset(system, agency, title="Chợ và điểm bán nông sản")


def _page(client, resource) -> str:
    response = client.get(f"/dataset/{resource.dataset.name}/resource/{resource.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _inline(client, resource, filename=None):
    return client.get(f"/dataset/{resource.dataset.name}/resource/{resource.id}/inline/"
                      f"{quote(filename or resource.filename)}")


def test_a_geojson_file_gets_a_map_of_its_download(client, system, dataset):
    resource = make_file_resource(system, dataset, GEOJSON, "cho.geojson")
    assert preview_kind(resource) == "map"
    page = _page(client, resource)
    assert 'class="preview-map"' in page
    assert f'data-geojson-url="/dataset/{dataset.name}/resource/{resource.id}/download/cho.geojson"' in page
    assert 'data-tile-url="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in page
    assert "vendor/leaflet/leaflet.js" in page and "js/preview.js" in page
    assert "chart.umd.js" not in page


def test_without_a_tile_url_the_map_has_no_background_layer(database_url, tmp_path):
    for app in make_test_app(database_url, tmp_path, MAP_TILE_URL=""):
        system = system_actor()
        dataset = make_dataset(system, make_agency(system))
        resource = make_file_resource(system, dataset, GEOJSON, "cho.geojson")
        page = app.test_client().get(f"/dataset/{dataset.name}/resource/{resource.id}").get_data(as_text=True)
        assert 'data-tile-url=""' in page


def test_a_pdf_is_shown_inline_sandboxed(client, system, dataset):
    resource = make_file_resource(system, dataset, PDF, "Kế hoạch.pdf")
    assert preview_kind(resource) == "pdf"
    page = _page(client, resource)
    inline_url = f"/dataset/{dataset.name}/resource/{resource.id}/inline/{quote('Kế hoạch.pdf')}"
    assert f'<object class="preview-pdf" data="{inline_url}" type="application/pdf"' in page
    response = client.get(inline_url)
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline;") and "filename*=UTF-8''" + quote("Kế hoạch.pdf") in disposition
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    db.session.refresh(resource)
    assert resource.download_count == 0  # looking at a preview is not a download


def test_an_image_is_shown_in_an_img(client, system, dataset):
    resource = make_file_resource(system, dataset, png(), "ban-do.png")
    assert preview_kind(resource) == "image"
    page = _page(client, resource)
    assert f'<img src="/dataset/{dataset.name}/resource/{resource.id}/inline/ban-do.png" alt="ban-do.png"' in page
    response = _inline(client, resource)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Security-Policy"] == "sandbox"


@pytest.mark.parametrize("content, filename", [
    (GEOJSON, "cho.geojson"),
    ("Xã,Số hồ sơ\nLâm Viên,12\n".encode(), "ho-so.csv"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "logo.svg"),
    (b"<!doctype html><html><body><script>alert(1)</script></body></html>", "trang.html"),
    (PROSE.encode(), "ghi-chu.txt"),
])
def test_the_inline_route_serves_nothing_but_pdfs_and_images(client, system, dataset, content, filename):
    resource = make_file_resource(system, dataset, content, filename)
    assert _inline(client, resource).status_code == 404


def test_the_inline_route_refuses_links(client, system, dataset):
    from opendata.catalog import resources
    link = resources.add_resource(system, dataset, {"name": "Bản đồ", "url": "https://example.org/ban-do.png"})
    assert preview_kind(link) is None
    assert _inline(client, link, "ban-do.png").status_code == 404


def test_files_held_back_are_neither_previewed_nor_served_inline(client, system, agency):
    editor = make_user(system, agency, "editor")
    dataset = make_dataset(system, agency)
    held = make_file_resource(editor, dataset, CCCD_TEXT, "danh-sach.txt")
    page = _page(client, held)
    assert 'class="preview' not in page and "068095001234" not in page
    assert _inline(client, held).status_code == 403  # the download's check comes first
    sign_in(client, editor)
    assert "068095001234" in _page(client, held)  # its editors still see what they uploaded


def test_drafts_of_another_agency_are_not_found(client, system, agency):
    draft = make_dataset(system, agency, published=False)
    resource = make_file_resource(system, draft, PDF, "du-thao.pdf")
    assert _inline(client, resource).status_code == 404
    outsider = make_user(system, make_agency(system), "admin")
    sign_in(client, outsider)
    assert _inline(client, resource).status_code == 404
    sign_in(client, make_user(system, agency, "member"))
    assert _inline(client, resource).status_code == 200


def test_a_windows_1258_text_file_is_decoded(client, system, dataset):
    resource = make_file_resource(system, dataset, encode_cp1258(PROSE * 3), "huong-dan.txt")
    assert resource.encoding == "cp1258" and preview_kind(resource) == "text"
    assert text_preview(resource) == (PROSE * 3, False)
    page = _page(client, resource)
    assert '<pre class="preview-text preview-text-wrap" tabindex="0">' + PROSE.split("\n")[0] in page
    assert "Bảng mã của tệp: Windows-1258." in page and "64 KB" not in page


def test_a_windows_1258_csv_is_decoded_too(system, dataset):
    content = "Xã,Ghi chú\nXuân Hương,Đã số hóa\nĐạ Huoai,Chưa số hóa\n"
    resource = make_file_resource(system, dataset, encode_cp1258(content), "ghi-chu.csv")
    assert text_preview(resource) == (content, False)


def test_a_long_text_file_is_cut_at_a_whole_line(client, system, dataset):
    line = "Đà Lạt — thành phố ngàn hoa; dòng thử nghiệm số {:05d}.\n"
    content = "".join(line.format(n) for n in range(3000))
    resource = make_file_resource(system, dataset, content.encode(), "dai.txt")
    text, truncated = text_preview(resource)
    assert truncated and content.startswith(text) and text.endswith(".\n")
    assert len(content.encode()) > TEXT_PREVIEW_BYTES >= len(text.encode()) > TEXT_PREVIEW_BYTES - 200
    assert "Chỉ hiện 64 KB đầu tiên" in _page(client, resource)


def test_json_that_is_no_table_is_shown_indented(client, system, dataset):
    resource = make_file_resource(system, dataset, b'{"Ten":{"Tinh":"Lam Dong","So":1}}', "du-lieu.json")
    assert preview_kind(resource, ingest.table_of(resource)) == "text"
    page = _page(client, resource)
    assert "{\n  &#34;Ten&#34;: {\n    &#34;Tinh&#34;: &#34;Lam Dong&#34;" in page


def test_text_from_the_file_is_escaped(client, system, dataset):
    # (A file that reads as HTML is sniffed as HTML and gets no preview at all.)
    resource = make_file_resource(system, dataset, "Điều kiện: 1 < 2 && 3 > 2 <ghi chú> hết.\n".encode(),
                                  "ghi-chu.txt")
    assert preview_kind(resource) == "text"
    page = _page(client, resource)
    assert "<ghi chú>" not in page and "1 &lt; 2 &amp;&amp; 3 &gt; 2 &lt;ghi chú&gt; hết." in page


# ---------------------------------------------------------------- tables and charts

CSV = "Năm,Huyện,Giá trị\n2024,Đà Lạt,\"1,5\"\n2025,Bảo Lộc,\"2,25\"\n".encode()


def _render_preview(app, dataset, resource, table) -> str:
    with app.test_request_context():
        return render_template("catalog/_preview.html", dataset=dataset, resource=resource, table=table)


def test_a_loaded_table_gets_the_table_and_the_chart(app, system, dataset):
    resource = make_file_resource(system, dataset, CSV, "gia-tri.csv")
    table = ingest.table_of(resource)
    assert table.ready and preview_kind(resource, table) == "table"
    html = _render_preview(app, dataset, resource, table)
    assert f'data-rows-url="/api/v1/resources/{resource.id}/rows"' in html
    assert 'data-page-size="50"' in html and "<noscript>" in html
    # The chart starts from the first label column and the first number column other than it.
    assert '<option value="Huyện" data-type="text" selected>' in html
    assert '<option value="Năm" data-type="int" >' in html
    assert '<option value="Giá trị" data-type="numeric" selected>' in html
    assert '<option value="bar" selected>' in html
    assert "vendor/chartjs/chart.umd.js" in html and "js/preview.js" in html and "leaflet" not in html
    # The conversions of the table are offered with it.
    assert f"/dataset/{dataset.name}/resource/{resource.id}/data.xlsx" in html


def test_the_publishers_chart_is_the_first_one_drawn(app, system, dataset):
    resource = make_file_resource(system, dataset, CSV, "gia-tri.csv")
    resource.extras = {**resource.extras, "chart": {"type": "line", "x": "Năm", "y": "Giá trị"}}
    html = _render_preview(app, dataset, resource, ingest.table_of(resource))
    assert '<option value="Năm" data-type="int" selected>' in html
    assert '<option value="line" selected>' in html


def test_chart_choice_falls_back_when_the_publishers_columns_are_gone(system, dataset):
    resource = make_file_resource(system, dataset, CSV, "gia-tri.csv")
    columns = table_columns(ingest.table_of(resource))
    resource.extras = {**resource.extras, "chart": {"type": "radar", "x": "Xã", "y": "Huyện"}}
    assert chart_choice(resource, columns) == Chart("bar", "Huyện", "Giá trị")  # a year is no value to draw
    names = make_file_resource(system, dataset, "Tên,Loại\nHồ Xuân Hương,hồ\n".encode(), "ten.csv")
    assert chart_choice(names, table_columns(ingest.table_of(names))) is None


def test_a_table_still_loading_shows_no_preview(app, system, dataset):
    resource = make_file_resource(system, dataset, "Năm,Giá trị\n2024,1\n".encode(), "gia-tri.csv")
    table = ingest.table_of(resource)
    table.status, table.table_name = "running", None  # as while a first load runs
    assert preview_kind(resource, table) is None
    assert _render_preview(app, dataset, resource, table).strip() == ""
    db.session.rollback()
