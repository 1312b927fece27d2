"""Reading tabular files as headers and streamed rows: encodings, delimiters, title rows, errors."""

import csv
import io
import json
import tracemalloc
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
import yaml

from opendata.datastore.reader import SkippedRow, TableError, open_table, unique_headers
from opendata.datastore.types import infer_schema, parser_for
from opendata.storage.encoding import encode_cp1258

DATASETS = Path(__file__).resolve().parents[2] / "datasets"
FORMATS = {".csv": "CSV", ".xlsx": "XLSX", ".json": "JSON"}


def _sample_resources():
    for meta in sorted(DATASETS.glob("*/dataset.yaml")):
        for resource in yaml.safe_load(meta.read_text(encoding="utf-8"))["resources"]:
            path = meta.parent / resource["file"]
            if path.suffix in FORMATS:
                yield pytest.param(path, resource.get("schema", {}), id=path.name)


def read(table):
    return list(table.rows())


def load(path: Path, fmt: str, **options):
    """Headers, the inferred schema and every row parsed with it."""
    with open_table(path, fmt, **options) as table:
        schema = infer_schema(table.headers, table.rows(), decimal_hint=table.decimal_hint)
        parsers = [parser_for(field) for field in schema["fields"]]
        rows = [[parse(cell) for parse, cell in zip(parsers, row)] for row in table.rows()]
    return table, schema, rows


def types(schema):
    return {field["name"]: field["type"] for field in schema["fields"]}


# --- The sample datasets ----------------------------------------------------------------

# Declared in dataset.yaml → what inference may reasonably find instead.
_COMPATIBLE = {("number", "integer"), ("string", "date")}


@pytest.mark.parametrize("path, declared", list(_sample_resources()))
def test_every_sample_table_opens_and_parses(path, declared):
    table, schema, rows = load(path, FORMATS[path.suffix])
    assert table.headers == [field["name"] for field in declared["fields"]]
    assert rows and not table.skipped
    for field in schema["fields"]:
        expected = next(f["type"] for f in declared["fields"] if f["name"] == field["name"])
        assert field["type"] == expected or (expected, field["type"]) in _COMPATIBLE, field


def test_named_sample_columns():
    folder = DATASETS / "danh-muc-nhiem-vu-du-an-trien-khai-de-an-chuyen-doi-so-giai-doan-2026-2030"
    for name, fmt in (("nhiem-vu-du-an.csv", "CSV"), ("nhiem-vu-du-an.xlsx", "XLSX"), ("nhiem-vu-du-an.json", "JSON")):
        _, schema, rows = load(folder / name, fmt)
        found = types(schema)
        assert found["Kinh phí (triệu đồng)"] == "integer"
        assert found["Năm bắt đầu"] == "integer" and found["Lộ trình"] == "string"
        assert rows[1][10] == 10000
    capital = DATASETS / "du-an-dau-tu-trung-tam-nghien-cuu-thu-nghiem-khoa-hoc-va-cong-nghe"
    _, schema, rows = load(capital / "du-an-trung-tam-nghien-cuu.csv", "CSV")
    assert types(schema)["Tổng vốn (tỷ đồng)"] == "number"
    assert sum(row[3] for row in rows) == pytest.approx(125.512)
    laws = DATASETS / "an-toan-thong-tin-mang-van-ban-chi-dao-va-luc-luong-ung-cuu-su-co"
    _, schema, _ = load(laws / "van-ban-an-toan-thong-tin.csv", "CSV")
    assert types(schema)["Ngày ban hành"] == "date"


# --- Encodings and delimiters -----------------------------------------------------------

VIETNAMESE_ROWS = [
    ["Đơn vị", "Kinh phí (triệu đồng)", "Tỷ lệ giải ngân", "Ngày báo cáo"],
    ["Sở Khoa học và Công nghệ", "1.886.105", "96,4%", "03/06/2025"],
    ["Ủy ban nhân dân xã Đạ Huoai", "12.000", "100%", "1/7/2025"],
    ["Trung tâm Phục vụ hành chính công", "500", "80,53%", "24/11/2025"],
]


def _semicolon_text(rows):
    return "".join(";".join(row) + "\r\n" for row in rows)


def test_windows_1258_semicolon_csv_from_vietnamese_excel(tmp_path):
    path = tmp_path / "upload"
    path.write_bytes(encode_cp1258(_semicolon_text(VIETNAMESE_ROWS)))
    table, schema, rows = load(path, "CSV")
    assert table.encoding == "Windows-1258" and table.delimiter == ";"
    assert table.headers == VIETNAMESE_ROWS[0]
    assert types(schema) == {"Đơn vị": "string", "Kinh phí (triệu đồng)": "integer",
                             "Tỷ lệ giải ngân": "number", "Ngày báo cáo": "date"}
    assert schema["fields"][2]["unit"] == "%"
    assert rows[0][0] == "Sở Khoa học và Công nghệ"  # NFC, not base letter + tone mark
    assert [row[1] for row in rows] == [1886105, 12000, 500]
    assert [row[2] for row in rows] == [96.4, 100.0, 80.53]


def test_tcvn3_csv(tmp_path):
    rows = [["Tên đơn vị", "Số hộ"], ["Phường Xuân Hương", "1.204"], ["Xã Đạ Tẻh", "356"], ["Xã Lạc Dương", "2.310"]]
    path = tmp_path / "upload"
    path.write_bytes("".join(",".join(row) + "\n" for row in rows).encode("tcvn3"))
    table, schema, parsed = load(path, "CSV")
    assert table.encoding == "TCVN3 (ABC)"
    assert table.headers == ["Tên đơn vị", "Số hộ"]
    assert parsed == [["Phường Xuân Hương", 1204], ["Xã Đạ Tẻh", 356], ["Xã Lạc Dương", 2310]]


def test_a_given_codec_is_used(tmp_path):
    path = tmp_path / "upload"
    path.write_bytes(encode_cp1258("Tên,Số\nĐà Lạt,1\nBảo Lộc,2\n"))
    with open_table(path, "CSV", "cp1258") as table:
        assert table.headers == ["Tên", "Số"] and read(table)[1] == ["Bảo Lộc", "2"]


@pytest.mark.parametrize("delimiter, fmt", [("\t", "TSV"), ("|", "CSV"), (",", "CSV"), (";", "CSV")])
def test_delimiters(tmp_path, delimiter, fmt):
    path = tmp_path / "upload"
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter).writerows(VIETNAMESE_ROWS)
    path.write_text(text.getvalue(), encoding="utf-8-sig")
    with open_table(path, fmt) as table:
        assert table.delimiter == delimiter and table.encoding == "UTF-8 có BOM"
        assert table.headers == VIETNAMESE_ROWS[0]
        assert read(table) == VIETNAMESE_ROWS[1:]


def test_utf16_tab_text_from_excel(tmp_path):
    path = tmp_path / "upload"
    path.write_text("".join("\t".join(row) + "\r\n" for row in VIETNAMESE_ROWS), encoding="utf-16")
    with open_table(path, "TSV") as table:
        assert table.delimiter == "\t" and table.headers == VIETNAMESE_ROWS[0]


# --- Header rows --------------------------------------------------------------------------


def test_title_rows_above_the_header_are_skipped_and_reported(tmp_path):
    path = tmp_path / "upload"
    path.write_text(
        "\n"
        "BÁO CÁO KINH PHÍ CHUYỂN ĐỔI SỐ NĂM 2025\n"
        "(Đơn vị tính: triệu đồng)\n"
        "STT,Đơn vị,Kinh phí\n"
        "(1),(2),(3)\n"
        "1,Sở Y tế,1.500\n"
        "2,Sở Tài chính,2.300\n",
        encoding="utf-8",
    )
    with open_table(path, "CSV") as table:
        assert table.delimiter == ","
        assert table.headers == ["STT", "Đơn vị", "Kinh phí"] and table.header_line == 4
        assert table.skipped == [
            SkippedRow(1, ""),
            SkippedRow(2, "BÁO CÁO KINH PHÍ CHUYỂN ĐỔI SỐ NĂM 2025"),
            SkippedRow(3, "(Đơn vị tính: triệu đồng)"),
            SkippedRow(5, "(1) | (2) | (3)"),
        ]
        assert read(table) == [["1", "Sở Y tế", "1.500"], ["2", "Sở Tài chính", "2.300"]]


def test_excel_title_row_padded_with_delimiters(tmp_path):
    path = tmp_path / "upload"
    path.write_text("ỦY BAN NHÂN DÂN TỈNH LÂM ĐỒNG;;;CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM;\n;;;;\n"
                    "Xã;Dân số;Diện tích;Mật độ;Ghi chú\nĐạ Huoai;12.000;95,3;126;\nLạc Dương;23.100;1.230,6;19;\n",
                    encoding="utf-8")
    table, schema, rows = load(path, "CSV")
    assert table.delimiter == ";" and table.header_line == 3
    assert [row.line for row in table.skipped] == [1, 2]
    assert types(schema)["Diện tích"] == "number" and rows[1][2] == 1230.6


def test_blank_and_repeated_headers_are_made_unique():
    assert unique_headers(["Năm", "", "Năm", "Năm2", "Năm", "_id", ""]) == [
        "Năm", "field2", "Năm2", "Năm22", "Năm3", "_id2", "field7"]


def test_header_cells_are_stripped_and_line_breaks_joined(tmp_path):
    path = tmp_path / "upload"
    path.write_text('" STT ","Kinh phí\n(triệu đồng)",Ghi chú,Ghi chú,\n1,2,a,b,\n', encoding="utf-8")
    with open_table(path, "CSV") as table:
        assert table.headers == ["STT", "Kinh phí (triệu đồng)", "Ghi chú", "Ghi chú2"]
        assert read(table) == [["1", "2", "a", "b"]]


def test_data_wider_than_the_header_gets_named_columns(tmp_path):
    path = tmp_path / "upload"
    path.write_text("a,b\n1,2,3\n4,5\n", encoding="utf-8")
    with open_table(path, "CSV") as table:
        assert table.headers == ["a", "b", "field3"]
        assert read(table) == [["1", "2", "3"], ["4", "5", ""]]


# --- Errors ---------------------------------------------------------------------------------


def test_an_unclosed_quote_names_its_line(tmp_path):
    path = tmp_path / "upload"
    path.write_text("STT,Tên\n1,Đà Lạt\n2,\"Bảo Lộc\n3,Di Linh\n", encoding="utf-8")
    with pytest.raises(TableError) as error:  # found while looking for the header
        open_table(path, "CSV")
    assert error.value.line == 3 and "dòng 3" in str(error.value) and "ngoặc kép" in str(error.value)


def test_a_misplaced_quote_names_its_line(tmp_path):
    path = tmp_path / "upload"
    path.write_text('STT,Tên\n1,Đà Lạt\n2,Bảo Lộc\n3,"Di" Linh\n', encoding="utf-8")
    with pytest.raises(TableError) as error:  # found while looking for the header
        open_table(path, "CSV")
    assert error.value.line == 4 and "dòng 4" in str(error.value)


def test_a_row_wider_than_the_table_far_down_the_file(tmp_path):
    path = tmp_path / "upload"
    path.write_text("a,b\n" + "1,2\n" * 200 + "3,4,5\n", encoding="utf-8")
    with open_table(path, "CSV") as table, pytest.raises(TableError) as error:
        read(table)
    assert error.value.line == 202 and "Dòng 202" in str(error.value)


@pytest.mark.parametrize(
    "content, fmt",
    [(b"", "CSV"), (b"\x00\x01\x02\x03binary\x00\x00" * 50, "CSV"), (b"not a zip", "XLSX"),
     (b'{"a": 1}', "JSON"), (b"[]", "JSON"), (b"%PDF-1.4", "PDF")],
)
def test_unreadable_files(tmp_path, content, fmt):
    path = tmp_path / "upload"
    path.write_bytes(content)
    with pytest.raises(TableError):
        open_table(path, fmt)


# --- XLSX -----------------------------------------------------------------------------------


def _workbook(path: Path, sheets: dict[str, list[list]]):
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)


def test_xlsx_keeps_cell_types_and_skips_a_title(tmp_path):
    path = tmp_path / "upload"  # stored files have no extension
    _workbook(path, {"Tổng hợp": [
        ["DANH SÁCH DỰ ÁN"],
        [],
        ["Dự án", "Vốn (tỷ đồng)", "Ngày khởi công", "Hoàn thành", "Số hộ"],
        ["Trung tâm dữ liệu", 29.512, datetime(2025, 7, 1), True, 1200],
        ["Hạ tầng 5G", 12, datetime(2026, 1, 15), False, None],
        [None, None, None, None, None],
    ]})
    table, schema, rows = load(path, "XLSX")
    assert table.sheet == "Tổng hợp" and table.encoding is None and table.delimiter is None
    assert table.header_line == 3 and table.skipped[0] == SkippedRow(1, "DANH SÁCH DỰ ÁN")
    assert types(schema) == {"Dự án": "string", "Vốn (tỷ đồng)": "number", "Ngày khởi công": "date",
                             "Hoàn thành": "boolean", "Số hộ": "integer"}
    with open_table(path, "XLSX") as again:
        assert read(again)[0] == ["Trung tâm dữ liệu", 29.512, datetime(2025, 7, 1), True, 1200]
    assert len(rows) == 2 and rows[1][2].isoformat() == "2026-01-15"


def test_xlsx_sheet_option(tmp_path):
    path = tmp_path / "upload"
    _workbook(path, {"Bìa": [["Bìa"]], "Số liệu": [["Xã", "Số hộ"], ["Đạ Huoai", 356]]})
    with open_table(path, "XLSX", sheet="Số liệu") as table:
        assert table.headers == ["Xã", "Số hộ"] and read(table) == [["Đạ Huoai", 356]]
    with open_table(path, "XLSX", sheet=1) as table:
        assert table.sheet == "Số liệu"
    with pytest.raises(TableError) as error:
        open_table(path, "XLSX", sheet="Không có")
    assert "Số liệu" in str(error.value)


# --- JSON -----------------------------------------------------------------------------------


def test_json_headers_are_the_union_of_keys_in_first_seen_order(tmp_path):
    path = tmp_path / "upload"
    records = [{"STT": 1, "Tên": "Đà Lạt"}, {"STT": 2, "Ghi chú": "mới", "Tên": "Bảo Lộc"},
               {"STT": 3, "Tọa độ": [11.9, 108.4], "Tỷ lệ": 96.4}]
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(records, ensure_ascii=False).encode())
    with open_table(path, "JSON") as table:
        assert table.headers == ["STT", "Tên", "Ghi chú", "Tọa độ", "Tỷ lệ"]
        assert read(table) == [
            [1, "Đà Lạt", None, None, None],
            [2, "Bảo Lộc", "mới", None, None],
            [3, None, None, "[11.9, 108.4]", 96.4],
        ]


def test_utf16_json(tmp_path):
    path = tmp_path / "upload"
    path.write_text(json.dumps([{"Tên": "Đà Lạt", "Số hộ": 1204}], ensure_ascii=False), encoding="utf-16")
    with open_table(path, "JSON") as table:
        assert table.encoding == "UTF-16" and read(table) == [["Đà Lạt", 1204]]


def test_json_syntax_error_names_its_line(tmp_path):
    path = tmp_path / "upload"
    path.write_text('[\n  {"a": 1},\n  {"a": 2,}\n]\n', encoding="utf-8")
    with pytest.raises(TableError) as error:
        open_table(path, "JSON")
    assert error.value.line == 3 and "dòng 3" in str(error.value)


def test_json_array_of_non_objects(tmp_path):
    path = tmp_path / "upload"
    path.write_text("[[1, 2], [3, 4]]", encoding="utf-8")
    with pytest.raises(TableError) as error:
        open_table(path, "JSON")
    assert "đối tượng" in str(error.value)


# --- Streaming --------------------------------------------------------------------------------


def test_rows_can_be_read_again_and_track_their_line(tmp_path):
    path = tmp_path / "upload"
    path.write_text('a,b\n1,"x\ny"\n\n2,z\n', encoding="utf-8")
    with open_table(path, "CSV") as table:
        assert read(table) == read(table) == [["1", "x\ny"], ["2", "z"]]
        assert table.line_num == 5


def test_a_200k_row_csv_streams_in_little_memory(tmp_path):
    path = tmp_path / "upload"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["STT", "Xã, phường", "Kinh phí (triệu đồng)", "Tỷ lệ", "Ngày"])
        for n in range(200_000):
            writer.writerow([n + 1, f"Phường Lâm Viên – Đà Lạt {n}", f"{n * 1000 + 5:,}".replace(",", "."),
                             f"{n % 100},{n % 10}%", f"{n % 28 + 1}/{n % 12 + 1}/2025"])
    assert path.stat().st_size > 10 * 1024 * 1024
    tracemalloc.start()
    try:
        with open_table(path, "CSV") as table:
            schema = infer_schema(table.headers, table.rows(), decimal_hint=table.decimal_hint)
            parsers = [parser_for(field) for field in schema["fields"]]
            count = total = 0
            for row in table.rows():
                values = [parse(cell) for parse, cell in zip(parsers, row)]
                count += 1
                total += values[2]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 200_000 and total == sum(n * 1000 + 5 for n in range(200_000))
    assert types(schema) == {"STT": "integer", "Xã, phường": "string", "Kinh phí (triệu đồng)": "integer",
                             "Tỷ lệ": "number", "Ngày": "date"}
    assert peak < 20 * 1024 * 1024, peak
