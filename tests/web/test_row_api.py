"""The rows of a table through the REST row API, CKAN's datastore actions and the conversions."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import quote

import openpyxl
import pytest

from opendata.datastore import ingest
from opendata.storage.encoding import encode_cp1258
from tests.factories import make_agency, make_dataset, make_file_resource, make_user
from tests.forms import sign_in

BUDGET_TEXT = (
    "Xã/phường;Năm;Kinh phí (triệu đồng);Tỷ lệ;Ngày khởi công;Ghi chú\n"
    "Phường Xuân Hương - Đà Lạt;2024;1.886.105;96,4%;15/03/2024;Cải tạo đường Trần Phú\n"
    "Xã Lạc Dương;2025;12.500;80,0%;01/07/2025;Nâng cấp trạm y tế\n"
    "Phường Bảo Lộc;2023;-;55,5%;;Xây trường mầm non Lộc Phát\n"
    "Xã Đam Rông;2025;750;12,25%;20/12/2025;Đường liên xã Đạ Long\n"
)
BUDGET = encode_cp1258(BUDGET_TEXT)  # as Excel set to Vietnamese writes it: semicolons, decimal commas, Windows-1258
CCCD_CSV = "Họ và tên,Số CCCD\nNguyễn Văn An,068095001234\nTrần Thị Bình,068195004321\n".encode()


@pytest.fixture
def agency(system):
    return make_agency(system)


@pytest.fixture
def resource(system, agency):
    dataset = make_dataset(system, agency, title="Công trình xây dựng cơ bản")
    return make_file_resource(system, dataset, BUDGET, filename="kinh-phi.csv")


def rows_url(resource, **params) -> str:
    query = "&".join(f"{key}={quote(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))}"
                     for key, value in params.items())
    return f"/api/v1/resources/{resource.id}/rows" + (f"?{query}" if query else "")


def test_rows_with_fields_types_and_dictionary(client, resource):
    answer = client.get(rows_url(resource))
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    body = answer.get_json()
    assert body["total"] == 4 and body["limit"] == 100 and body["offset"] == 0 and body["next_cursor"] is None
    assert [(f["id"], f["type"]) for f in body["fields"]] == [
        ("Xã/phường", "text"), ("Năm", "int"), ("Kinh phí (triệu đồng)", "int"), ("Tỷ lệ", "numeric"),
        ("Ngày khởi công", "date"), ("Ghi chú", "text")]
    assert body["fields"][3]["info"] == {"unit": "%"}
    assert body["records"][0] == {"_id": 1, "Xã/phường": "Phường Xuân Hương - Đà Lạt", "Năm": 2024,
                                  "Kinh phí (triệu đồng)": 1886105, "Tỷ lệ": 96.4,
                                  "Ngày khởi công": "2024-03-15", "Ghi chú": "Cải tạo đường Trần Phú"}


def test_filters_q_sort_and_fields(client, resource):
    body = client.get(rows_url(resource, filters={"Năm": [2025, 2023]}, sort="Kinh phí (triệu đồng) desc",
                               fields="Xã/phường")).get_json()
    assert [r["Xã/phường"] for r in body["records"]] == ["Xã Lạc Dương", "Xã Đam Rông", "Phường Bảo Lộc"]
    assert set(body["records"][0]) == {"Xã/phường"} and body["total"] == 3  # no _id unless asked, as in CKAN
    body = client.get(rows_url(resource, filters={"Kinh phí (triệu đồng)": {"gte": 1000}})).get_json()
    assert body["total"] == 2
    body = client.get(rows_url(resource, q="lac duong")).get_json()
    assert [r["_id"] for r in body["records"]] == [2]
    body = client.get(rows_url(resource, q="Đạ Long", total="false")).get_json()
    assert [r["_id"] for r in body["records"]] == [4] and body["total"] is None


def test_cursor_paging_and_link(client, resource):
    first = client.get(rows_url(resource, limit="3", sort="Năm")).get_json()
    assert [r["Năm"] for r in first["records"]] == [2023, 2024, 2025]
    assert first["links"]["next"].startswith("http") and "cursor=" in first["links"]["next"]
    second = client.get(rows_url(resource, limit="3", sort="Năm", cursor=first["next_cursor"])).get_json()
    assert [r["_id"] for r in second["records"]] == [4] and second["next_cursor"] is None


def test_csv_and_xlsx_results_stream_every_row(client, resource):
    answer = client.get(rows_url(resource, format="csv", sort="Năm"))
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert lines[0][:2] == ["Xã/phường", "Năm"] and len(lines) == 5 and lines[1][0] == "Phường Bảo Lộc"
    answer = client.get(rows_url(resource, format="xlsx", filters={"Năm": 2025}))
    sheet = openpyxl.load_workbook(io.BytesIO(answer.data)).active
    values = list(sheet.values)
    assert values[0][1] == "Năm" and len(values) == 3 and values[1][2] == 12500
    assert values[1][4].date().isoformat() == "2025-07-01"


def test_bad_parameters_get_a_reason(client, resource):
    answer = client.get(rows_url(resource, filters={"Huyện": "Lâm Hà"}))
    assert answer.status_code == 400 and "Không có cột «Huyện»" in answer.get_json()["error"]["message"]
    answer = client.get(rows_url(resource, filters="[1]"))
    assert answer.status_code == 400
    answer = client.get(rows_url(resource, filters={"Năm": "năm ngoái"}))
    assert answer.status_code == 400 and "«Năm»" in answer.get_json()["error"]["message"]
    assert client.get(rows_url(resource, limit="100000")).status_code == 400
    assert client.get(rows_url(resource, cursor="không-phải")).status_code == 400
    assert client.get(rows_url(resource, format="pdf")).status_code == 400
    assert client.get("/api/v1/resources/khong-co/rows").status_code == 404


def test_etag_answers_304(client, resource):
    first = client.get(rows_url(resource, q="xa"))
    assert first.get_json()["total"] == 2
    again = client.get(rows_url(resource, q="xa"), headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    other = client.get(rows_url(resource, q="da lat"), headers={"If-None-Match": first.headers["ETag"]})
    assert other.status_code == 200
    other.close()  # the body is not read: closing gives the query's connection back


def test_rows_follow_the_files_rules(client, system, agency, resource):
    draft = make_dataset(system, agency, published=False, title="Bản nháp")
    hidden = make_file_resource(system, draft, BUDGET, filename="nhap.csv")
    assert client.get(rows_url(hidden)).status_code == 404
    # A file the non-sensitive gate holds back serves no rows, not even to a signed-in visitor.
    held = make_file_resource(system, resource.dataset, CCCD_CSV, filename="cccd.csv")
    assert ingest.table_of(held).ready
    assert client.get(rows_url(held)).status_code == 403
    answer = client.post("/api/3/action/datastore_search", json={"resource_id": held.id})
    assert answer.status_code == 403
    link = client.get(f"/dataset/{resource.dataset.name}/resource/{held.id}/data.csv")
    assert link.status_code == 403


def test_an_unread_answer_gives_its_connection_back(client, resource):
    from opendata.extensions import db

    pool = db.engine.pool
    for method in (client.head, client.get):
        response = method(rows_url(resource))
        during = pool.checkedout()  # the session's, and the query's: its rows are not read yet
        response.close()
        assert pool.checkedout() == during - 1


def test_a_file_that_is_no_table_answers_409(client, system, resource):
    pdf = make_file_resource(system, resource.dataset, b"%PDF-1.4\n%%EOF\n", filename="bao-cao.pdf")
    answer = client.get(rows_url(pdf))
    assert answer.status_code == 409 and answer.get_json()["error"]["code"] == "datastore_not_ready"


def test_ckan_datastore_search(client, resource):
    answer = client.post("/api/3/action/datastore_search", json={
        "resource_id": resource.id, "filters": {"Năm": 2025}, "sort": "Kinh phí (triệu đồng) asc",
        "fields": ["Xã/phường", "Kinh phí (triệu đồng)"], "limit": 1})
    result = answer.get_json()["result"]
    assert answer.status_code == 200 and result["total"] == 2 and result["limit"] == 1
    assert result["fields"] == [{"id": "Xã/phường", "type": "text"}, {"id": "Kinh phí (triệu đồng)", "type": "int"}]
    assert result["records"] == [{"Xã/phường": "Xã Đam Rông", "Kinh phí (triệu đồng)": 750}]
    assert "offset=1" in result["_links"]["next"]
    answer = client.get(f"/api/3/action/datastore_search?resource_id={resource.id}&q=tram%20y%20te"
                        "&records_format=lists&fields=Năm,Ghi chú")
    assert answer.get_json()["result"]["records"] == [[2025, "Nâng cấp trạm y tế"]]
    answer = client.get(f"/api/3/action/datastore_search?resource_id={resource.id}&filters=%7B%22X%22%3A1%7D")
    assert answer.status_code == 409 and answer.get_json()["error"]["__type"] == "Validation Error"
    answer = client.get("/api/3/action/datastore_search?resource_id=khong-co")
    assert answer.status_code == 404 and answer.get_json()["error"]["__type"] == "Not Found Error"


def test_ckan_datastore_info_and_resource_flag(client, resource):
    result = client.get(f"/api/3/action/datastore_info?id={resource.id}").get_json()["result"]
    assert result["meta"]["count"] == 4
    assert [(f["id"], f["type"]) for f in result["fields"]][:2] == [("Xã/phường", "text"), ("Năm", "int")]
    shown = client.get(f"/api/3/action/resource_show?id={resource.id}").get_json()["result"]
    assert shown["datastore_active"] is True
    rest = client.get(f"/api/v1/resources/{resource.id}").get_json()
    assert rest["datastore_active"] is True and rest["rows_url"].endswith(f"/api/v1/resources/{resource.id}/rows")


def test_conversions(client, resource):
    base = f"/dataset/{resource.dataset.name}/resource/{resource.id}"
    answer = client.get(f"{base}/data.csv")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    text = answer.data.decode("utf-8")
    assert text.splitlines()[1] == "Phường Xuân Hương - Đà Lạt,2024,1886105,96.4,2024-03-15,Cải tạo đường Trần Phú"
    assert "kinh-phi.csv" in answer.headers["Content-Disposition"]
    assert client.get(f"{base}/data.csv?bom=1").data.startswith("\ufeff".encode())
    records = client.get(f"{base}/data.json").get_json()
    assert len(records) == 4 and records[3] == {"Xã/phường": "Xã Đam Rông", "Năm": 2025, "Kinh phí (triệu đồng)": 750,
                                                "Tỷ lệ": 12.25, "Ngày khởi công": "2025-12-20",
                                                "Ghi chú": "Đường liên xã Đạ Long"}
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"{base}/data.xlsx").data))
    values = list(book.active.values)
    assert len(values) == 5 and values[1][2] == 1886105 and values[3][2] is None
    assert client.get(f"{base}/data.pdf").status_code == 404


def test_resource_page_shows_status_and_report_to_editors(client, system, agency, resource):
    page = client.get(f"/dataset/{resource.dataset.name}/resource/{resource.id}").get_data(as_text=True)
    assert "Bảng có <strong>4</strong> dòng" in page and "Báo cáo kiểm tra tệp" not in page
    sign_in(client, make_user(system, agency, "editor", name="bien-tap"))
    page = client.get(f"/dataset/{resource.dataset.name}/resource/{resource.id}").get_data(as_text=True)
    assert "Báo cáo kiểm tra tệp" in page and "dấu chấm phẩy" in page


def test_unreadable_file_shows_its_report_and_stays_downloadable(client, system, resource):
    broken = make_file_resource(system, resource.dataset, 'Tên,Ghi chú\nA,"không đóng\nB,x\n'.encode(),
                                filename="hong.csv")
    page = client.get(f"/dataset/{resource.dataset.name}/resource/{broken.id}").get_data(as_text=True)
    assert "Không đọc được tệp thành bảng" in page and "dấu ngoặc kép" in page
    assert client.get(f"/dataset/{resource.dataset.name}/resource/{broken.id}/download/hong.csv").status_code == 200


def test_publisher_picks_the_default_chart(client, system, agency, resource):
    from tests.forms import submit

    sign_in(client, make_user(system, agency, "editor", name="bien-tap"))
    edit = f"/dataset/{resource.dataset.name}/resource/{resource.id}/edit"
    form = client.get(edit).get_data(as_text=True)
    assert "Biểu đồ mặc định" in form and "Bảng có <strong>4</strong> dòng" in form
    answer = submit(client, edit, data={"name": resource.name, "chart-type": "line", "chart-x": "Năm",
                                        "chart-y": "Kinh phí (triệu đồng)"})
    assert answer.status_code == 303
    assert resource.extras["chart"] == {"type": "line", "x": "Năm", "y": "Kinh phí (triệu đồng)"}
    page = client.get(f"/dataset/{resource.dataset.name}/resource/{resource.id}").get_data(as_text=True)
    assert '<option value="line" selected>' in page
    refused = submit(client, edit, data={"name": resource.name, "chart-type": "pie", "chart-x": "Năm",
                                         "chart-y": "Ghi chú"})
    assert refused.status_code == 422 and "cột số" in refused.get_data(as_text=True)
    assert resource.extras["chart"]["type"] == "line"


def test_xlsx_cells_are_text_never_formulas_and_odd_names_work(client, system, resource):
    hostile = '[{"Tên": "=HYPERLINK(\\"http://example.org\\",\\"x\\")", "Ghi chú": "a\\u0001b"}]'.encode()
    table = make_file_resource(system, resource.dataset, hostile, filename="thu[1].json")
    answer = client.get(f"/dataset/{resource.dataset.name}/resource/{table.id}/data.xlsx")
    assert answer.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(answer.data)).active
    cell = sheet["A2"]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK") and sheet["B2"].value == "ab"
    assert sheet.title == "thu 1"
    answer = client.get(rows_url(table, format="xlsx"))
    assert answer.status_code == 200 and 'filename="thu[1].xlsx"' in answer.headers["Content-Disposition"]


def test_row_ids_sort_and_filter_as_in_ckan(client, resource):
    body = client.get(rows_url(resource, sort="_id desc", fields="Năm")).get_json()
    assert [r["Năm"] for r in body["records"]] == [2025, 2023, 2025, 2024]
    assert set(body["records"][0]) == {"Năm"}  # fields without _id leave it out
    body = client.get(rows_url(resource, filters={"_id": {"gte": 3}}, fields="_id,Năm")).get_json()
    assert body["records"] == [{"_id": 3, "Năm": 2023}, {"_id": 4, "Năm": 2025}]
    assert client.get(rows_url(resource, filters={"Năm": 10**30})).status_code == 400
    assert client.get(rows_url(resource, filters={"_id": -(10**20)})).status_code == 400


def test_headers_with_commas_sort(client, system, resource):
    table = make_file_resource(system, resource.dataset, '"Dân số, nghìn người",Xã\n12,A\n7,B\n9,C\n'.encode(),
                               filename="dan-so.csv")
    body = client.get(rows_url(table, sort="Dân số, nghìn người desc")).get_json()
    assert [r["Xã"] for r in body["records"]] == ["A", "C", "B"]


def test_an_editor_previews_a_draft_with_the_session(client, system, agency):
    draft = make_dataset(system, agency, published=False, title="Bản nháp")
    table = make_file_resource(system, draft, BUDGET, filename="nhap.csv")
    assert client.get(rows_url(table)).status_code == 404
    sign_in(client, make_user(system, agency, "editor", name="bien-tap"))
    answer = client.get(rows_url(table))
    assert answer.status_code == 200 and answer.get_json()["total"] == 4
    assert "private" in answer.headers["Cache-Control"]
