import io
import json
import zipfile

import openpyxl
import pytest

from opendata.storage.encoding import encode_cp1258
from opendata.storage.sniff import HEAD_BYTES, UnsafeArchive, check_archive, guess_delimiter, sniff

ROWS = "Họ và tên;Địa chỉ;Số lượng\nNguyễn Văn Ân;Phường Xuân Hương, Đà Lạt;3\nTrần Thị Bích;Xã Lạc Dương;5\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def _sniff(tmp_path, name, content):
    path = tmp_path / "upload"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return sniff(path, name)


def _zip(tmp_path, entries, name="archive.zip", method=zipfile.ZIP_DEFLATED):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", method) as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)
    return path


@pytest.mark.parametrize(
    "name, content, fmt",
    [
        ("data.csv", "STT,Tên,Giá trị\n1,Đà Lạt,3\n2,Bảo Lộc,4\n", "CSV"),
        ("data.csv", ROWS, "CSV"),
        ("data", "a;b\n1,5;2,5\n3,5;4,5\n", "CSV"),
        ("data.tsv", "a\tb\tc\n1\t2\t3\n4\t5\t6\n", "TSV"),
        ("data.csv", "a\tb\tc\n1\t2\t3\n4\t5\t6\n", "CSV"),
        ("data.txt", "STT,Tên\n1,Đà Lạt\n2,Bảo Lộc\n", "TXT"),
        ("ghichu.csv", "Ghi chú duy nhất một cột\nDòng thứ hai\n", "TXT"),
        ("data.json", json.dumps([{"a": 1}, {"a": 2}]), "JSON"),
        ("map.json", json.dumps({"type": "FeatureCollection", "features": []}), "GeoJSON"),
        ("x.xml", '<?xml version="1.0"?><catalog><item/></catalog>', "XML"),
        ("map.kml", '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"/>', "KML"),
        ("image.png", '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
        ("data.csv", "<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", "HTML"),
        ("data.csv", "\n  <html><body>a,b\n1,2</body></html>", "HTML"),
        ("data.json", "<script>alert(document.cookie)</script>", "HTML"),
        ("a.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "PDF"),
        ("photo.jpg", PNG, "PNG"),
        ("photo.png", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", "JPEG"),
        ("anim.gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!", "GIF"),
        ("readme.md", "Bộ dữ liệu này mô tả chỉ tiêu chuyển đổi số của tỉnh.\n", "TXT"),
    ],
)
def test_format_comes_from_content(tmp_path, name, content, fmt):
    assert _sniff(tmp_path, name, content).format == fmt


def test_html_named_csv_is_active_and_not_tabular(tmp_path):
    sniffed = _sniff(tmp_path, "data.csv", "<html><head><title>x</title></head><body>a,b</body></html>")
    assert (sniffed.format, sniffed.media_type, sniffed.active, sniffed.tabular) == ("HTML", "text/html", True, False)


@pytest.mark.parametrize("fmt", ["SVG", "XML", "KML"])
def test_markup_is_active(tmp_path, fmt):
    content = {
        "SVG": '<?xml version="1.0"?>\n<!-- logo -->\n<svg xmlns="http://www.w3.org/2000/svg"/>',
        "XML": "<data><row>1</row></data>",
        "KML": '<kml xmlns="http://www.opengis.net/kml/2.2"><Document/></kml>',
    }[fmt]
    sniffed = _sniff(tmp_path, "file.txt", content)
    assert sniffed.format == fmt and sniffed.active


def test_csv_media_type_and_tabular(tmp_path):
    sniffed = _sniff(tmp_path, "data.csv", ROWS)
    assert (sniffed.media_type, sniffed.active, sniffed.tabular) == ("text/csv", False, True)
    tsv = _sniff(tmp_path, "data.tsv", "a\tb\n1\t2\n")
    assert (tsv.format, tsv.media_type, tsv.tabular) == ("TSV", "text/tab-separated-values", True)


@pytest.mark.parametrize(
    "raw",
    [ROWS.encode("utf-16"), ROWS.encode("utf-8-sig"), encode_cp1258(ROWS), ROWS.encode("tcvn3")],
    ids=["utf-16", "utf-8-sig", "windows-1258", "tcvn3"],
)
def test_legacy_encodings_are_still_csv(tmp_path, raw):
    assert _sniff(tmp_path, "data.csv", raw).format == "CSV"


def test_utf16_tab_separated_excel_unicode_text(tmp_path):
    raw = "Họ và tên\tSố lượng\nNguyễn Văn Ân\t3\nLê Thị Hoa\t4\n".encode("utf-16")
    assert _sniff(tmp_path, "export.tsv", raw).format == "TSV"


def test_geojson_larger_than_the_head_is_recognised(tmp_path):
    feature = {"type": "Feature", "properties": {"ten": "Đà Lạt"}, "geometry": {"type": "Point", "coordinates": [108.4, 11.9]}}
    text = json.dumps({"type": "FeatureCollection", "features": [feature] * 5000})
    assert len(text.encode()) > HEAD_BYTES
    sniffed = _sniff(tmp_path, "map.json", text)
    assert (sniffed.format, sniffed.media_type) == ("GeoJSON", "application/geo+json")


def test_only_the_head_is_read(tmp_path):
    # A big CSV whose tail is garbage is still a CSV: only the first 256 KB count.
    head = ("STT,Tên,Giá trị\n" + "1,Đà Lạt,3\n" * 40_000).encode()
    assert len(head) > HEAD_BYTES
    assert _sniff(tmp_path, "data.csv", head + b"\x00\xff" * 1000).format == "CSV"


def test_truncated_last_line_does_not_break_csv(tmp_path):
    text = "a,b,c\n" + '1,"dài",3\n' * 60_000
    assert _sniff(tmp_path, "data.csv", text).format == "CSV"


def test_xlsx_is_recognised_by_its_entries_whatever_its_name(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["STT", "Tên"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    sniffed = _sniff(tmp_path, "bang.zip", buffer.getvalue())
    assert (sniffed.format, sniffed.tabular) == ("XLSX", True)
    assert sniffed.media_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.mark.parametrize(
    "entries, fmt",
    [
        ({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>"}, "DOCX"),
        ({"mimetype": "application/vnd.oasis.opendocument.spreadsheet", "content.xml": "<x/>"}, "ODS"),
        ({"ranh-gioi.shp": b"\x00\x00\x27\x0a", "ranh-gioi.dbf": b"", "ranh-gioi.shx": b""}, "SHP"),
        ({"a.csv": "a,b\n1,2\n"}, "ZIP"),
        ({"xl/styles.xml": "<styleSheet/>"}, "ZIP"),  # a workbook needs xl/workbook.xml
    ],
)
def test_zip_content_decides_the_format(tmp_path, entries, fmt):
    path = _zip(tmp_path, entries)
    assert sniff(path, "file.xlsx").format == fmt


def test_unknown_binary_is_octet_stream(tmp_path):
    sniffed = _sniff(tmp_path, "data.csv", bytes(range(256)) * 10)
    assert (sniffed.format, sniffed.media_type, sniffed.active, sniffed.tabular) == (
        None, "application/octet-stream", False, False,
    )


def test_empty_file(tmp_path):
    assert _sniff(tmp_path, "data.csv", b"").format is None


@pytest.mark.parametrize(
    "lines, delimiter",
    [
        (["a;b;c\n", "1,5;2,5;3\n", "4;5;6\n"], ";"),
        (["a,b\n", '"x; y",2\n', "3,4\n"], ","),
        (["a\tb\n", "1\t2\n"], "\t"),
        (["Một câu, có dấu phẩy.\n", "Câu khác không có.\n", "Lại một, hai, ba.\n"], None),
        (["a,b\n"], None),
    ],
)
def test_guess_delimiter(lines, delimiter):
    assert guess_delimiter(lines) == delimiter


# --- check_archive ----------------------------------------------------------------


def test_ordinary_archives_and_other_files_pass(tmp_path):
    check_archive(_zip(tmp_path, {"a.csv": "a,b\n1,2\n", "docs/readme.txt": "xin chào"}))
    workbook = openpyxl.Workbook()
    workbook.active.append(["STT", "Tên"])
    workbook.save(tmp_path / "bang.xlsx")
    check_archive(tmp_path / "bang.xlsx")
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    check_archive(tmp_path / "data.csv")


def _raises(path, **limits) -> str:
    with pytest.raises(UnsafeArchive) as caught:
        check_archive(path, **limits)
    assert caught.value.message == str(caught.value)
    return caught.value.message


def test_high_compression_ratio_is_a_bomb(tmp_path):
    path = _zip(tmp_path, {"zeros.bin": b"\x00" * (5 * 1024 * 1024)})
    assert "tỷ lệ nén" in _raises(path)


def test_small_entries_may_compress_well(tmp_path):
    check_archive(_zip(tmp_path, {"zeros.bin": b"\x00" * 100_000}))


def test_declared_total_over_the_limit(tmp_path):
    path = _zip(tmp_path, {"a.bin": b"x" * 3000, "b.bin": b"y" * 3000}, method=zipfile.ZIP_STORED)
    assert "Tổng dung lượng" in _raises(path, max_total=5000)


def test_too_many_entries(tmp_path):
    path = _zip(tmp_path, {f"f{i}.txt": "x" for i in range(5)})
    assert "quá nhiều" in _raises(path, max_entries=4)


@pytest.mark.parametrize("name", ["../evil.sh", "a/../../evil.sh", "/etc/cron.d/x", "C:/Windows/x.dll", "..\\evil.bat"])
def test_path_traversal(tmp_path, name):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo(name), "x")
    assert "đường dẫn không an toàn" in _raises(path)


def test_corrupt_zip(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 50)
    assert "bị hỏng" in _raises(path)


def test_nested_bomb_is_found_one_level_down(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(3):
            archive.writestr(f"part{i}.bin", b"\x00" * 900_000)  # each under the 1 MB floor
    path = _zip(tmp_path, {"inner.zip": inner.getvalue()}, method=zipfile.ZIP_STORED)
    assert "inner.zip" in _raises(path)


def test_nested_ordinary_archive_passes(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("a.csv", "a,b\n1,2\n")
    check_archive(_zip(tmp_path, {"inner.zip": inner.getvalue()}))


def test_svg_opening_with_a_comment_is_svg(tmp_path):
    sniffed = _sniff(tmp_path, "logo.csv", '<!-- made by hand -->\n<svg xmlns="http://www.w3.org/2000/svg"/>')
    assert (sniffed.format, sniffed.active) == ("SVG", True)


def test_xhtml_is_html(tmp_path):
    text = '<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>'
    assert _sniff(tmp_path, "page.xml", text).format == "HTML"


def test_table_starting_with_a_less_than_sign_is_not_markup(tmp_path):
    assert _sniff(tmp_path, "tuoi.csv", "<5 tuổi;5-10 tuổi\n12;30\n14;28\n").format == "CSV"


def test_text_starting_with_pk_is_not_a_zip(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("PK,Tên\n1,Đà Lạt\n")
    check_archive(path)
