import re

import pytest

from opendata.accounts.services import create_token
from tests.factories import make_agency, make_dataset, make_file_resource, make_user


@pytest.fixture
def catalogue(system):
    agency = make_agency(system, name="so-giao-duc-va-dao-tao", title="Sở Giáo dục và Đào tạo")
    other = make_agency(system, name="so-y-te", title="Sở Y tế")
    school = make_dataset(system, agency, title="Danh sách trường học Đà Lạt", themes=["giao-duc-dao-tao"],
                          tags=["trường học"], notes="Trường học <script>alert(1)</script> **đậm**")
    make_file_resource(system, school, b"a,b\n1,2\n", filename="truong-hoc.csv")
    health = make_dataset(system, other, title="Cơ sở y tế", themes=["y-te"], tags=["bệnh viện"])
    make_file_resource(system, health, b"{}", filename="co-so.json")
    draft = make_dataset(system, agency, title="Bản nháp chưa công bố", published=False)
    return {"agency": agency, "other": other, "school": school, "health": health, "draft": draft}


def _h1s(html: str) -> list[str]:
    return re.findall(r"<h1[^>]*>(.*?)</h1>", html, flags=re.S)


@pytest.mark.parametrize("path", ["/", "/dataset", "/organization", "/group", "/about",
                                  "/organization/so-y-te", "/group/y-te"])
def test_public_pages_render_with_one_h1(client, catalogue, path):
    response = client.get(path)
    assert response.status_code == 200
    assert len(_h1s(response.get_data(as_text=True))) == 1
    assert 'lang="vi"' in response.get_data(as_text=True)


def test_home_shows_counts_themes_and_newest(client, catalogue):
    html = client.get("/").get_data(as_text=True)
    assert "Danh sách trường học Đà Lạt" in html and "Cơ sở y tế" in html
    assert "Bản nháp chưa công bố" not in html
    assert "Nông nghiệp" in html  # every theme is listed


def test_dataset_page_has_title_as_h1_resources_and_sanitised_markdown(client, catalogue):
    school = catalogue["school"]
    html = client.get(f"/dataset/{school.name}").get_data(as_text=True)
    assert _h1s(html) == ["Danh sách trường học Đà Lạt"]
    resource = school.resources[0]
    assert resource.sha256 in html
    assert f"/dataset/{school.name}/resource/{resource.id}/download/truong-hoc.csv" in html
    assert "<strong>đậm</strong>" in html
    assert "<script>alert(1)</script>" not in html
    assert '"@type": "Dataset"' in html


def test_dataset_reached_by_id_redirects_to_its_name(client, catalogue):
    school = catalogue["school"]
    response = client.get(f"/dataset/{school.id}")
    assert response.status_code == 301 and response.location.endswith(f"/dataset/{school.name}")


def test_resource_page_shows_the_data_dictionary(client, system, catalogue):
    school = catalogue["school"]
    resource = make_file_resource(system, school, b"x\n", filename="tu-dien.csv", schema={"fields": [
        {"name": "Số học sinh", "type": "integer", "description": "Tổng số học sinh", "unit": "người"}]})
    html = client.get(f"/dataset/{school.name}/resource/{resource.id}").get_data(as_text=True)
    assert "Từ điển dữ liệu" in html and "Số học sinh" in html and "Tổng số học sinh" in html


def test_list_filters_by_agency_theme_format_and_tag(client, catalogue):
    def titles(query):
        html = client.get(f"/dataset?{query}").get_data(as_text=True)
        return set(re.findall(r'class="dataset-card-title"><a href="[^"]+">([^<]+)</a>', html))

    assert titles("organization=so-y-te") == {"Cơ sở y tế"}
    assert titles("groups=giao-duc-dao-tao") == {"Danh sách trường học Đà Lạt"}
    assert titles("res_format=JSON") == {"Cơ sở y tế"}
    assert titles("tags=trường học") == {"Danh sách trường học Đà Lạt"}
    assert titles("organization=so-y-te&organization=so-giao-duc-va-dao-tao") == {
        "Cơ sở y tế", "Danh sách trường học Đà Lạt"}
    assert titles("organization=so-y-te&groups=giao-duc-dao-tao") == set()
    assert titles("q=truong hoc da lat") == {"Danh sách trường học Đà Lạt"}


def test_list_paginates_and_sorts(client, system, catalogue, app):
    app.config["PAGE_SIZE"] = 2
    for number in range(3):
        make_dataset(system, catalogue["other"], title=f"Thêm {number}")
    first = client.get("/dataset?sort=name").get_data(as_text=True)
    assert 'rel="next"' in first and "5 bộ dữ liệu" in first
    third = client.get("/dataset?sort=name&page=3").get_data(as_text=True)
    assert 'rel="prev"' in third
    assert client.get("/dataset?page=abc").status_code == 200


def test_unpublished_dataset_is_404_for_the_public_and_visible_to_members(client, system, catalogue):
    draft = catalogue["draft"]
    assert client.get(f"/dataset/{draft.name}").status_code == 404
    assert "Bản nháp" not in client.get("/dataset").get_data(as_text=True)
    member = make_user(system, catalogue["agency"], "member")
    _, secret = create_token(system, member, "test")
    response = client.get(f"/dataset/{draft.name}", headers={"Authorization": secret})
    assert response.status_code == 200
    outsider = make_user(system)
    _, other_secret = create_token(system, outsider, "test")
    assert client.get(f"/dataset/{draft.name}", headers={"Authorization": f"Bearer {other_secret}"}).status_code == 404


def test_not_found_pages_are_styled_html_or_json(client, catalogue):
    response = client.get("/dataset/khong-co")
    assert response.status_code == 404
    assert "Không tìm thấy" in response.get_data(as_text=True) and "<h1>" in response.get_data(as_text=True)
    as_json = client.get("/khong-co", headers={"Accept": "application/json"})
    assert as_json.status_code == 404 and as_json.json["error"]["code"] == "not_found"
    assert client.get("/organization/khong-co").status_code == 404
    assert client.get("/group/khong-co").status_code == 404


def test_server_error_page_rolls_back_and_is_styled(app, client):
    @app.get("/test-boom")
    def boom():
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production, where errors become the 500 page
    response = client.get("/test-boom")
    assert response.status_code == 500
    assert "Đã có lỗi xảy ra" in response.get_data(as_text=True)
