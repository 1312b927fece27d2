"""Loading tabular files into the datastore, and querying their rows (both database backends)."""

from __future__ import annotations

import pytest

from opendata.catalog import resources
from opendata.datastore import ingest
from opendata.datastore.models import DONE, FAILED
from opendata.datastore.query import RowQuery, RowQueryError, open_rows, parse_sort
from opendata.extensions import db
from tests.factories import make_agency, make_dataset, make_file_resource, xlsx_bytes

BUDGET = (
    "Xã/phường,Năm,Kinh phí (triệu đồng),Tỷ lệ,Ngày khởi công,Hoàn thành,Ghi chú\n"
    "Phường Xuân Hương - Đà Lạt,2024,1.886.105,\"96,4%\",15/03/2024,có,Cải tạo đường Trần Phú\n"
    "Xã Lạc Dương,2025,12.500,\"80,0%\",01/07/2025,không,Nâng cấp trạm y tế\n"
    "Phường Bảo Lộc,2023,-,\"55,5%\",,có,Xây trường mầm non Lộc Phát\n"
    "Xã Đam Rông,2025,750,\"12,25%\",20/12/2025,không,Đường liên xã Đạ Long\n"
)


@pytest.fixture
def dataset(system):
    return make_dataset(system, make_agency(system))


def rows(table, **options):
    result = open_rows(table, RowQuery(**options))
    records = list(result.records())
    return records, result


def test_csv_is_loaded_with_vietnamese_types(system, dataset):
    resource = make_file_resource(system, dataset, BUDGET.encode(), filename="kinh-phi.csv")
    table = ingest.table_of(resource)
    assert table.status == DONE and table.ready and table.rows == 4
    types = {field["id"]: field["ckan_type"] for field in table.fields}
    assert types == {"Xã/phường": "text", "Năm": "int", "Kinh phí (triệu đồng)": "int", "Tỷ lệ": "numeric",
                     "Ngày khởi công": "date", "Hoàn thành": "bool", "Ghi chú": "text"}
    records, result = rows(table)
    assert result.total == 4
    first = records[0]
    assert first == {"_id": 1, "Xã/phường": "Phường Xuân Hương - Đà Lạt", "Năm": 2024,
                     "Kinh phí (triệu đồng)": 1886105, "Tỷ lệ": 96.4, "Ngày khởi công": "2024-03-15",
                     "Hoàn thành": True, "Ghi chú": "Cải tạo đường Trần Phú"}
    assert records[2]["Kinh phí (triệu đồng)"] is None and records[2]["Ngày khởi công"] is None
    assert table.report["valid"] is True
    # The dictionary now carries the inferred types, for the publisher to edit.
    assert [field["type"] for field in resource.schema["fields"]][:3] == ["string", "integer", "integer"]


def test_filters_sort_fields_and_full_text(system, dataset):
    table = ingest.table_of(make_file_resource(system, dataset, BUDGET.encode(), filename="kinh-phi.csv"))
    records, result = rows(table, filters={"Năm": 2025}, sort=parse_sort("Kinh phí (triệu đồng) desc"),
                           fields=["Xã/phường", "Kinh phí (triệu đồng)"])
    assert [r["Xã/phường"] for r in records] == ["Xã Lạc Dương", "Xã Đam Rông"] and result.total == 2
    assert set(records[0]) == {"Xã/phường", "Kinh phí (triệu đồng)"}  # _id only when asked for, as in CKAN
    records, _ = rows(table, filters={"Xã/phường": ["Xã Lạc Dương", "Phường Bảo Lộc"]})
    assert [r["_id"] for r in records] == [2, 3]
    records, _ = rows(table, filters={"Kinh phí (triệu đồng)": {"gte": "1.000", "lt": 2_000_000}})
    assert [r["_id"] for r in records] == [1, 2]
    records, _ = rows(table, filters={"Ngày khởi công": {"gte": "01/06/2025"}})
    assert [r["_id"] for r in records] == [2, 4]
    records, result = rows(table, q="da lat")
    assert [r["_id"] for r in records] == [1] and result.total == 1
    records, _ = rows(table, q="ĐƯỜNG")  # folded, it is also the "Dương" of Lạc Dương
    assert [r["_id"] for r in records] == [1, 2, 4]
    records, _ = rows(table, q="dam rong da long")
    assert [r["_id"] for r in records] == [4]
    # NULLs sort last both ways.
    records, _ = rows(table, sort=parse_sort("Kinh phí (triệu đồng) asc"))
    assert [r["_id"] for r in records] == [4, 2, 1, 3]


def test_cursor_pages_through_every_row_once(system, dataset):
    lines = ["Tên,Giá trị"] + [f"Mục {i},{(i * 7) % 5 if i % 6 else ''}" for i in range(1, 58)]
    table = ingest.table_of(make_file_resource(system, dataset, "\n".join(lines).encode(), filename="muc.csv"))
    for sort in (parse_sort("Giá trị desc"), parse_sort("Giá trị"), []):
        seen, cursor = [], None
        while True:
            result = open_rows(table, RowQuery(sort=sort, limit=10, cursor=cursor))
            page = list(result.records())
            seen += [r["_id"] for r in page]
            cursor = result.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == list(range(1, 58)) and len(seen) == 57
        expected, _ = rows(table, sort=sort, limit=None)
        assert seen == [r["_id"] for r in expected]


def test_bad_queries_name_the_problem(system, dataset):
    table = ingest.table_of(make_file_resource(system, dataset, BUDGET.encode(), filename="kinh-phi.csv"))
    with pytest.raises(RowQueryError, match="Không có cột «Huyện»"):
        open_rows(table, RowQuery(filters={"Huyện": "Đà Lạt"}))
    with pytest.raises(RowQueryError, match="không hợp lệ cho cột «Năm»"):
        open_rows(table, RowQuery(filters={"Năm": "hai nghìn"}))
    with pytest.raises(RowQueryError):
        open_rows(table, RowQuery(cursor="%%%"))
    with pytest.raises(RowQueryError):
        open_rows(table, RowQuery(sort=[("Không có", False)]))


def test_bad_cells_are_reported_and_stored_as_null(system, dataset):
    lines = ["Mã,Số lượng"] + [f"A{i},{i}" for i in range(1, 10_050)] + ["B1,nhiều", "B2,12"]
    resource = make_file_resource(system, dataset, "\n".join(lines).encode(), filename="so-luong.csv")
    table = ingest.table_of(resource)
    assert table.status == DONE and table.rows == 10_051
    assert table.report["valid"] is False and table.report["stats"]["errors"] == 1
    error = table.report["errors"][0]
    assert error["rowNumber"] == 10_050 and error["fieldName"] == "Số lượng" and error["cell"] == "nhiều"
    records, _ = rows(table, filters={"Mã": "B1"})
    assert records[0]["Số lượng"] is None


def test_changing_a_type_revalidates(system, dataset):
    resource = make_file_resource(system, dataset, "Mã xã,Tên\n00123,Xã A\n00456,Xã B\n".encode(), filename="xa.csv")
    assert ingest.table_of(resource).fields[0]["type"] == "string"
    schema = {"fields": [{"name": "Mã xã", "type": "integer", "title": "Mã đơn vị hành chính"},
                         {"name": "Tên", "type": "string"}]}
    resources.update_resource(system, dataset, resource, {"schema": schema})
    table = ingest.table_of(resource)
    db.session.refresh(table)
    assert table.fields[0]["type"] == "integer" and table.report["valid"] is True
    assert rows(table)[0][0]["Mã xã"] == 123
    assert resource.schema["fields"][0]["title"] == "Mã đơn vị hành chính"
    # The choice survives a replaced file.
    resources.replace_file(system, dataset, resource,
                           resources.Upload(__import__("io").BytesIO("Mã xã,Tên\n00789,Xã C\n".encode()), "xa.csv"))
    table = ingest.table_of(resource)
    db.session.refresh(table)
    assert table.fields[0]["type"] == "integer" and rows(table)[0][0]["Mã xã"] == 789


def test_unreadable_file_fails_with_a_report_and_stays_downloadable(system, dataset):
    content = 'Tên,Ghi chú\nA,"mở ngoặc mà không đóng\nB,x\n'.encode()
    resource = make_file_resource(system, dataset, content, filename="hong.csv")
    table = ingest.table_of(resource)
    assert table.status == FAILED and not table.ready
    assert "dấu ngoặc kép" in table.report["error"]["message"] and table.report["error"]["line"] == 2
    assert resource.storage_key


def test_xlsx_and_json_are_loaded(system, dataset):
    book = xlsx_bytes([["BÁO CÁO SỐ LIỆU"], ["Huyện", "Số hộ", "Ngày"], ["Lâm Hà", 1200, "01/02/2024"],
                       ["Đức Trọng", 3400, "02/02/2024"]])
    table = ingest.table_of(make_file_resource(system, dataset, book, filename="so-ho.xlsx"))
    assert table.status == DONE and [f["ckan_type"] for f in table.fields] == ["text", "int", "date"]
    assert rows(table, sort=parse_sort("Số hộ desc"))[0][0]["Huyện"] == "Đức Trọng"
    data = '[{"Tên": "Hồ Xuân Hương", "Diện tích (ha)": 25.5}, {"Tên": "Hồ Tuyền Lâm", "Diện tích (ha)": 320}]'
    table = ingest.table_of(make_file_resource(system, dataset, data.encode(), filename="ho.json"))
    assert table.status == DONE and rows(table, q="tuyen lam")[0][0]["Diện tích (ha)"] == 320


def test_deleting_the_resource_drops_its_table(system, dataset):
    resource = make_file_resource(system, dataset, BUDGET.encode(), filename="kinh-phi.csv")
    name = ingest.table_of(resource).table_name
    resources.delete_resource(system, dataset, resource)
    from opendata.datastore.sql import existing_tables
    with db.engine.connect() as connection:
        assert name not in list(existing_tables(connection))


def test_identifier_columns_are_found_by_exact_value(system, dataset):
    lines = ["Mã hồ sơ,Thủ tục"] + [f"HS{i:06d},Cấp giấy phép xây dựng số {i % 7}" for i in range(1, 200)]
    table = ingest.table_of(make_file_resource(system, dataset, "\n".join(lines).encode(), filename="ho-so.csv"))
    assert [field.get("search") for field in table.fields] == ["exact", "words"]
    assert [r["_id"] for r in rows(table, q="HS000042")[0]] == [42]
    assert rows(table, q="giay phep xay dung", limit=None)[1].total == 199
    assert rows(table, q="000042")[0] == []  # a code is not made of words


def test_a_search_alone_pages_from_the_index_like_the_general_query(system, dataset):
    lines = ["Mã,Nội dung"] + [f"M{i:05d},{'đường giao thông' if i % 3 else 'trường học'} số {i}" for i in range(1, 400)]
    lines += ["duong,không phải đường"]  # an identifier equal to the search, found by its exact value
    table = ingest.table_of(make_file_resource(system, dataset, "\n".join(lines).encode(), filename="cong-trinh.csv"))
    assert [field.get("search") for field in table.fields] == ["exact", "words"]
    general = rows(table, q="duong", filters={"Mã": {"gte": ""}}, limit=None)[0]  # a filter takes the general path
    seen, cursor = [], None
    while True:
        result = open_rows(table, RowQuery(q="duong", limit=50, cursor=cursor))
        seen += [r["_id"] for r in result.records()]
        assert result.total == len(general) == 267
        if (cursor := result.next_cursor) is None:
            break
    assert seen == [r["_id"] for r in general]
    page = rows(table, q="duong", limit=10, offset=260)[0]
    assert [r["_id"] for r in page] == [r["_id"] for r in general][260:]
    assert [r["_id"] for r in rows(table, q="duong giao", limit=3)[0]] == [1, 2, 4]


def _during_the_next_load(monkeypatch, action):
    """Run ``action`` after the next load has written its rows and before it finishes (as another request would)."""
    write = ingest._Load._write

    def write_then_act(self, *args, **kwargs):
        write(self, *args, **kwargs)
        monkeypatch.setattr(ingest._Load, "_write", write)
        action()

    monkeypatch.setattr(ingest._Load, "_write", write_then_act)


def test_a_description_written_during_a_load_is_kept(system, dataset, monkeypatch):
    resource = make_file_resource(system, dataset, BUDGET.encode(), filename="kinh-phi.csv")
    schema = {"fields": [{**field, "description": "Tên đơn vị"} if field["name"] == "Xã/phường" else field
                         for field in resource.schema["fields"]]}
    _during_the_next_load(monkeypatch, lambda: resources.update_resource(system, dataset, resource, {"schema": schema}))
    table = ingest.load_table(resource.id)
    assert table.status == DONE and table.rows == 4
    assert resource.schema["fields"][0]["description"] == "Tên đơn vị"


def test_a_resource_deleted_during_its_load_leaves_no_table(system, dataset, monkeypatch):
    from opendata.datastore.sql import existing_tables

    resource = make_file_resource(system, dataset, BUDGET.encode(), filename="kinh-phi.csv")
    _during_the_next_load(monkeypatch, lambda: resources.delete_resource(system, dataset, resource))
    assert ingest.load_table(resource.id) is None
    with db.engine.connect() as connection:
        assert list(existing_tables(connection)) == []


def test_the_served_table_keeps_its_total_while_a_reload_waits(system, dataset, monkeypatch):
    resource = make_file_resource(system, dataset, BUDGET.encode(), filename="kinh-phi.csv")
    monkeypatch.setattr(ingest, "enqueue", lambda *args, **kwargs: None)  # the worker has not taken the job yet
    ingest.start_load(resource)
    table = ingest.table_of(resource)
    assert table.status == "pending" and table.ready
    records, result = rows(table)
    assert result.total == 4 == len(records)


def test_reload_finds_tables_missing_or_stale_and_sweep_drops_orphans(system, dataset, monkeypatch):
    from opendata.datastore.sql import backend_for, existing_tables

    resource = make_file_resource(system, dataset, BUDGET.encode(), filename="kinh-phi.csv")
    assert ingest.reload_stale() == 0
    table = ingest.table_of(resource)
    table.sha256 = "0" * 64  # as if the file had been replaced and its job lost
    db.session.commit()
    assert ingest.reload_stale() == 1 and ingest.table_of(resource).sha256 == resource.sha256
    orphan = "ds_" + "ab" * 16 + "_0000dead"
    with db.engine.begin() as connection:
        backend_for(connection).create(orphan, [("c1", "string")])
    assert ingest.sweep() == [orphan]
    with db.engine.connect() as connection:
        assert list(existing_tables(connection)) == [ingest.table_of(resource).table_name]


def test_a_frequent_value_sorted_descending_gives_the_general_order(system, dataset):
    # 6,000 rows: indexes are built; "Lâm Hà" is frequent enough for SQLite to walk the sort's index.
    lines = ["Huyện,Số tiền"] + [f"{'Lâm Hà' if i % 4 else 'Di Linh'},{'' if i % 97 == 0 else (i * 37) % 500}"
                                 for i in range(1, 6001)]
    table = ingest.table_of(make_file_resource(system, dataset, "\n".join(lines).encode(), filename="tien.csv"))
    assert "seconds_indexes" in table.report["stats"]
    sort = parse_sort("Số tiền desc")
    general = [r["_id"] for r in rows(table, filters={"Huyện": ["Lâm Hà"]}, sort=sort, limit=None)[0]]
    assert len(general) == 4500
    seen, cursor = [], None
    while True:
        result = open_rows(table, RowQuery(filters={"Huyện": "Lâm Hà"}, sort=sort, limit=1000, cursor=cursor))
        seen += [r["_id"] for r in result.records()]
        assert result.total == 4500
        if (cursor := result.next_cursor) is None:
            break
    assert seen == general
    values = [r["Số tiền"] for r in rows(table, filters={"Huyện": "Lâm Hà"}, sort=sort, limit=None)[0]]
    assert values[0] == 499 and values[-1] is None  # NULLs last, descending
