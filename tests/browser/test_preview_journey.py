"""A citizen previews data on a resource page, in a real browser: a map with no tile server, a table, a chart."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from opendata.datastore import ingest

from tests.factories import make_agency, make_dataset, make_file_resource

pytestmark = pytest.mark.browser

SAMPLE_GEOJSON = (Path(__file__).resolve().parents[2] / "datasets"
                  / "ket-qua-thuong-mai-dien-tu-va-thi-truong-theo-doi-gia-nong-san"
                  / "thi-truong-theo-doi-gia.geojson")
COMMUNES = ["Phường Xuân Hương - Đà Lạt", "Phường Lâm Viên - Đà Lạt", "Xã Đạ Huoai", "Phường Bảo Lộc", "Xã Đinh Văn"]
ROWS = [(2000 + n % 25, COMMUNES[n % 5], n * 7 % 101 + 0.5) for n in range(120)]
TABLE = ("Năm,Xã/phường,Giá trị (triệu đồng)\n" + "".join(f"{y},{c},{v}\n" for y, c, v in ROWS)).encode()
OUTSIDE = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")


@pytest.fixture
def resources(system):
    agency = make_agency(system, name="so-cong-thuong", title="Sở Công Thương")
    dataset = make_dataset(system, agency, title="Thị trường theo dõi giá nông sản")
    markets = make_file_resource(system, dataset, SAMPLE_GEOJSON.read_bytes(), "thi-truong.geojson")
    tricky = make_file_resource(system, dataset, json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"Tên": '<img src=x onerror="window.pwned=1">Chợ Đà Lạt'},
         "geometry": {"type": "Polygon", "coordinates": [[[108.43, 11.94], [108.45, 11.94], [108.44, 11.95],
                                                          [108.43, 11.94]]]}},
    ]}, ensure_ascii=False).encode(), "vung.geojson")
    prices = make_file_resource(system, dataset, TABLE, "gia.csv")
    return {"dataset": dataset, "markets": markets, "tricky": tricky, "prices": prices}


def _open(page, server, resource):
    page.goto(f"{server}/dataset/{resource.dataset.name}/resource/{resource.id}")


def test_the_map_shows_every_feature_with_no_tile_server(live_server, page, resources):
    page.route(OUTSIDE, lambda route: route.abort())  # no internet: the tiles never come
    _open(page, live_server, resources["markets"])
    features = len(json.loads(SAMPLE_GEOJSON.read_text(encoding="utf-8"))["features"])
    markers = page.locator(".preview-map path.leaflet-interactive")
    markers.nth(features - 1).wait_for()
    assert markers.count() == features
    assert f"{features} đối tượng trên bản đồ" in page.locator(".preview-map-note").inner_text()
    markers.first.click(force=True)
    assert "TP. Hà Nội" in page.locator(".leaflet-popup-content").inner_text()


def test_feature_properties_are_shown_as_text(live_server, page, resources):
    page.route(OUTSIDE, lambda route: route.abort())
    _open(page, live_server, resources["tricky"])
    area = page.locator(".preview-map path.leaflet-interactive")
    area.first.wait_for()
    area.first.click(force=True)
    popup = page.locator(".leaflet-popup-content")
    assert '<img src=x onerror="window.pwned=1">Chợ Đà Lạt' in popup.inner_text()
    assert popup.locator("img").count() == 0 and page.evaluate("window.pwned") is None


@pytest.fixture
def loaded_table(app, resources):
    """The CSV's rows in the datastore: the table and chart previews read them through the row API."""
    table = ingest.table_of(resources["prices"])
    assert table is not None and table.ready and table.rows == 120
    return resources["prices"]


@pytest.mark.parametrize("width", [390, 1280])
def test_the_table_pages_sorts_and_searches(live_server, page, loaded_table, width):
    page.set_viewport_size({"width": width, "height": 900})
    _open(page, live_server, loaded_table)
    status = page.locator(".preview-status")
    page.wait_for_function("document.querySelector('.preview-status').textContent.startsWith('Dòng')")
    assert status.inner_text() == "Dòng 1–50 trong 120"
    assert page.locator(".preview-table-box tbody tr").count() == 50
    page.get_by_role("button", name="Trang sau").click()
    page.wait_for_function("document.querySelector('.preview-status').textContent.startsWith('Dòng 51')")
    assert status.inner_text() == "Dòng 51–100 trong 120"

    header = page.locator(".preview-table-box th", has_text="Giá trị (triệu đồng)")
    header.get_by_role("button").click()
    page.wait_for_function("document.querySelector('.preview-status').textContent.startsWith('Dòng 1–')")
    assert header.get_attribute("aria-sort") == "ascending"
    values = page.locator(".preview-table-box tbody tr td:nth-child(3)")
    assert values.first.inner_text() == "0,5"  # the smallest, in Vietnamese notation
    header.get_by_role("button").click()
    page.wait_for_function("document.querySelector('.preview-table-box th[aria-sort=descending]') !== null")
    page.wait_for_function("document.querySelector('.preview-table-box tbody td:nth-child(3)').textContent === '100,5'")

    page.get_by_label("Tìm trong bảng").fill("da huoai")  # no diacritics: still finds Đạ Huoai
    page.get_by_label("Tìm trong bảng").press("Enter")
    page.wait_for_function("document.querySelector('.preview-status').textContent.includes('khớp với')")
    assert status.inner_text() == "Dòng 1–24 trong 24 khớp với «da huoai»"
    assert set(page.locator(".preview-table-box tbody tr td:nth-child(2)").all_inner_texts()) == {"Xã Đạ Huoai"}
    assert page.locator(".preview-table-box tbody tr td:nth-child(1)").first.inner_text().isdigit()  # 2003, not 2.003
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"


def test_the_chart_draws_and_follows_the_visitors_choice(live_server, page, loaded_table):
    _open(page, live_server, loaded_table)
    canvas = page.locator(".preview-chart canvas")
    canvas.wait_for()
    page.wait_for_function(
        "document.querySelector('.preview-chart .preview-note').textContent.startsWith('Biểu đồ vẽ')")
    assert page.get_by_label("Trục ngang (X)").input_value() == "Xã/phường"
    assert page.get_by_label("Giá trị (Y)").input_value() == "Giá trị (triệu đồng)"
    assert canvas.bounding_box()["height"] > 100
    assert page.evaluate("Chart.getChart(document.querySelector('.preview-chart canvas')).data.labels.length") == 120
    page.get_by_label("Kiểu biểu đồ").select_option("pie")
    page.wait_for_function("Chart.getChart(document.querySelector('.preview-chart canvas')).config.type === 'pie'")
    assert "Biểu đồ tròn" in canvas.get_attribute("aria-label")
