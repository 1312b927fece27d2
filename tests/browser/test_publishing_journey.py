"""The publisher's journey in a real browser: invited, draft, upload, submit, approved, public."""

from __future__ import annotations

import re

import pytest

from opendata.accounts import services as accounts
from tests.factories import make_agency, make_dataset, make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def agencies(system):
    health = make_agency(system, name="so-y-te", title="Sở Y tế")
    other = make_agency(system, name="so-tai-chinh", title="Sở Tài chính")
    admin = make_user(system, health, "admin", name="quan-tri-yte", password="mat-khau-quan-tri")
    foreign = make_dataset(system, other, published=False, title="Dự toán ngân sách (bản nháp)")
    secret = accounts.invite(admin, health, "lan.nguyen@soyte.lamdong.gov.vn", "editor")[1]
    return {"health": health, "admin": admin, "foreign": foreign, "invitation": secret}


def _log_in(page, server, login, password):
    page.goto(server + "/user/login")
    page.get_by_label("Tên đăng nhập hoặc thư điện tử").fill(login)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()


def test_invited_editor_takes_a_dataset_from_draft_to_published(live_server, browser, agencies, tmp_path):
    editor = browser.new_context(locale="vi-VN").new_page()
    editor.goto(f"{live_server}/user/invite/{agencies['invitation']}")
    editor.get_by_label("Tên đăng nhập").fill("lan.nguyen")
    editor.get_by_label("Họ và tên").fill("Nguyễn Thị Lan")
    editor.get_by_label("Mật khẩu", exact=True).fill("mat-khau-bien-tap")
    editor.get_by_label("Nhập lại mật khẩu").fill("mat-khau-bien-tap")
    editor.get_by_role("button", name="Tạo tài khoản và tham gia").click()
    editor.get_by_role("link", name="Quản trị dữ liệu").click()
    editor.get_by_role("link", name="+ Thêm bộ dữ liệu").click()

    editor.get_by_label("Tên bộ dữ liệu").fill("Số giường bệnh theo cơ sở y tế")
    editor.get_by_label("Mô tả").fill("Số giường bệnh kế hoạch và thực kê của các cơ sở y tế công lập.")
    editor.get_by_label("Giấy phép").select_option("cc-by")
    editor.get_by_label("Y tế").check()
    editor.get_by_label("Phân loại theo chia sẻ").select_option("open")
    editor.get_by_label("Phân loại theo mức độ quan trọng").select_option("other")
    editor.get_by_role("button", name="Tạo bản nháp").click()
    editor.wait_for_url(re.compile(r"/resource/new$"))

    table = tmp_path / "giuong-benh.csv"
    table.write_text("Cơ sở,Giường kế hoạch,Giường thực kê\nBệnh viện Đa khoa tỉnh,1.000,1.120\n", encoding="utf-8")
    editor.locator("#file-input").set_input_files(str(table))
    editor.get_by_role("button", name="Tải lên").click()
    editor.wait_for_url(re.compile(r"/resource/[0-9a-f-]+/edit$"))
    assert "Không phát hiện dữ liệu cá nhân" in editor.locator(".scan-box").inner_text()
    editor.get_by_role("link", name="Số giường bệnh theo cơ sở y tế").first.click()
    editor.get_by_role("button", name="Gửi duyệt").click()
    assert "Chờ duyệt" in editor.locator(".state-badge").inner_text()
    assert editor.get_by_role("button", name="Duyệt và công bố").count() == 0  # editors do not approve

    # Another agency's draft does not exist for this editor, by any address.
    foreign = agencies["foreign"].name
    for path in (f"/dataset/{foreign}", f"/dataset/edit/{foreign}", f"/dataset/{foreign}/resource/new"):
        assert editor.goto(live_server + path).status == 404

    admin = browser.new_context(locale="vi-VN").new_page()
    _log_in(admin, live_server, "quan-tri-yte", "mat-khau-quan-tri")
    admin.goto(live_server + "/dashboard")
    admin.locator(".review-box").get_by_role("link", name="Số giường bệnh theo cơ sở y tế").click()
    admin.get_by_role("button", name="Duyệt và công bố").click()
    assert "Đã công bố" in admin.locator(".state-badge").inner_text()

    citizen = browser.new_context(locale="vi-VN").new_page()
    citizen.goto(live_server + "/dataset?q=giuong benh")
    citizen.get_by_role("link", name="Số giường bệnh theo cơ sở y tế").click()
    assert citizen.locator("h1").inner_text() == "Số giường bệnh theo cơ sở y tế"
    assert citizen.get_by_role("link", name=re.compile("Tải về")).count() == 1
