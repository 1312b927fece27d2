"""The citizen's main journeys, in a real browser."""

import hashlib
import re

import pytest

from tests.factories import make_agency, make_dataset, make_file_resource

pytestmark = pytest.mark.browser


@pytest.fixture
def catalogue(system):
    tech = make_agency(system, name="so-khoa-hoc-va-cong-nghe", title="Sở Khoa học và Công nghệ")
    health = make_agency(system, name="so-y-te", title="Sở Y tế")
    towers = make_dataset(system, tech, title="Trạm BTS và 5G tại Đà Lạt", tags=["viễn thông"],
                          themes=["hanh-chinh-cong"])
    content = "Xã/phường,Số trạm\nPhường Xuân Hương - Đà Lạt,12\n".encode()
    make_file_resource(system, towers, content, filename="Trạm BTS.csv", name="Danh sách trạm (CSV)")
    clinics = make_dataset(system, health, title="Cơ sở khám chữa bệnh", themes=["y-te"])
    make_file_resource(system, clinics, b"[]", filename="co-so.json")
    return {"towers": towers, "content": content}


def test_citizen_searches_opens_a_dataset_and_downloads_a_verified_file(live_server, page, catalogue, tmp_path):
    page.goto(live_server + "/")
    page.get_by_label("Tìm dữ liệu").fill("tram bts da lat")
    page.get_by_role("button", name="Tìm kiếm").click()
    page.wait_for_url(re.compile(r"/dataset\?q="))
    page.get_by_role("link", name="Trạm BTS và 5G tại Đà Lạt").click()
    assert page.locator("h1").inner_text() == "Trạm BTS và 5G tại Đà Lạt"
    shown_checksum = page.locator(".checksum code").first.inner_text()
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Tải về")).first.click()
    download = download_info.value
    assert download.suggested_filename == "Trạm BTS.csv"
    path = tmp_path / "downloaded.csv"
    download.save_as(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == shown_checksum
    assert path.read_bytes() == catalogue["content"]


def test_facets_chips_and_back_button_keep_the_state_in_the_url(live_server, page, catalogue):
    page.goto(live_server + "/dataset")
    assert "2 bộ dữ liệu" in page.locator("#results-heading").inner_text()
    page.locator(".facets").get_by_role("link", name=re.compile("Sở Y tế")).click()
    page.wait_for_url(re.compile("organization=so-y-te"))
    assert "1 bộ dữ liệu" in page.locator("#results-heading").inner_text()
    page.get_by_role("link", name="Bỏ bộ lọc Sở Y tế").click()
    page.wait_for_url(re.compile(r"/dataset$"))
    page.go_back()
    page.wait_for_url(re.compile("organization=so-y-te"))
    assert "1 bộ dữ liệu" in page.locator("#results-heading").inner_text()


@pytest.mark.parametrize("width", [390, 1280])
def test_pages_fit_the_screen_without_sideways_scrolling(live_server, page, catalogue, width):
    page.set_viewport_size({"width": width, "height": 900})
    for path in ["/", "/dataset", f"/dataset/{catalogue['towers'].name}", "/organization", "/group", "/about"]:
        page.goto(live_server + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} overflows by {overflow}px at {width}px"


def test_home_search_box_suggests_datasets_as_people_type(live_server, page, catalogue):
    page.goto(live_server + "/")
    box = page.get_by_role("combobox", name="Tìm dữ liệu")
    box.press_sequentially("tram b", delay=30)
    option = page.get_by_role("option", name="Trạm BTS và 5G tại Đà Lạt")
    option.wait_for()
    box.press("ArrowDown")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/dataset/tram-bts"))
    assert page.locator("h1").inner_text() == "Trạm BTS và 5G tại Đà Lạt"
