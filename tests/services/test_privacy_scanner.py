import json
from pathlib import Path

import openpyxl
import pytest

from opendata.privacy.scanner import KIND_LABELS, ScanReport, header_kind, scan_file, scan_text
from opendata.storage.encoding import encode_cp1258

DATASETS = Path(__file__).resolve().parents[2] / "datasets"
SAMPLES = sorted(DATASETS.glob("*/*.csv")) + sorted(DATASETS.glob("*/*.xlsx"))


def _csv(tmp_path, text, raw=None, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(raw if raw is not None else text.encode("utf-8"))
    return path


def _column(report, header, sheet=None):
    matches = [c for c in report.columns if c.column == header and c.sheet == sheet]
    assert matches, f"no finding for {header!r} in {[c.column for c in report.columns]}"
    return matches[0]


def _kinds(column):
    return {finding.kind: finding.count for finding in column.findings}


def test_the_published_sample_files_exist():
    assert len(SAMPLES) >= 20


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name[:30]}/{p.name}")
def test_public_statistics_have_no_personal_data(path):
    report = scan_file(path, "XLSX" if path.suffix == ".xlsx" else "CSV")
    assert report.error is None
    assert report.rows_scanned > 0
    assert not report.has_findings, report.to_dict()


def test_cccd_column(tmp_path):
    rows = ["STT,Số giấy tờ,Ghi chú"] + [f"{i},0792010012{i:02d},cấp tại Đà Lạt" for i in range(1, 21)]
    report = scan_file(_csv(tmp_path, "\n".join(rows) + "\n"), "CSV")
    assert report.rows_scanned == 20
    (column,) = report.columns
    assert column.column == "Số giấy tờ" and column.header_kind is None
    (finding,) = column.findings
    assert (finding.kind, finding.label_vi, finding.count) == ("cccd", KIND_LABELS["cccd"], 20)
    assert finding.samples == ["0792*****201", "0792*****202", "0792*****203"]
    assert "079201001201" not in json.dumps(report.to_dict())


def test_phones_in_several_formats(tmp_path):
    phones = ["0912345678", "0912 345 678", "0912.345.678", "091-234-5678", "+84 912 345 678",
              "(+84) 912345678", "84912345678", "0263 3822 123", "0263.3822.123", "Liên hệ: 0387654321"]
    text = "Tên cơ sở;Liên hệ\n" + "".join(f"Cơ sở {i};{p}\n" for i, p in enumerate(phones))
    report = scan_file(_csv(tmp_path, text), "CSV")
    (column,) = report.columns
    assert _kinds(column) == {"phone": len(phones)}
    assert set(column.findings[0].samples) <= {"091****678", "026*****123", "038****321"}


def test_emails(tmp_path):
    text = "Người gửi,Nội dung\nnguyen.van.an@gmail.com,Xin chào\n\"Gửi bởi lethihoa@yahoo.com.vn\",Cảm ơn\n"
    report = scan_file(_csv(tmp_path, text), "CSV")
    column = _column(report, "Người gửi")
    assert _kinds(column) == {"email": 2}
    assert column.findings[0].samples == ["n***@gmail.com", "l***@yahoo.com.vn"]


def test_header_alone_flags_a_name_column(tmp_path):
    text = "STT,Họ và tên,Giới tính,Năm sinh\n1,Nguyễn Văn Ân,Nam,1980\n2,Lê Thị Hoa,Nữ,1992\n"
    report = scan_file(_csv(tmp_path, text), "CSV")
    assert report.has_findings
    kinds = {c.column: c.header_kind for c in report.columns}
    assert kinds == {"Họ và tên": "name", "Giới tính": "gender", "Năm sinh": "birth_date"}
    assert all(c.findings == [] for c in report.columns)


def test_quasi_identifiers_alone_are_aggregate_statistics(tmp_path):
    text = "Giới tính,Dân tộc,Số học sinh\nNam,Kinh,1200\nNữ,Kinh,1150\n"
    assert not scan_file(_csv(tmp_path, text), "CSV").has_findings


@pytest.mark.parametrize(
    "header, kind",
    [
        ("HỌ VÀ TÊN", "name"), ("Ho ten", "name"), ("Ngày, tháng, năm sinh", "birth_date"),
        ("Số CCCD", "citizen_id"), ("CCCD/CMND", "citizen_id"), ("Căn cước công dân", "citizen_id"),
        ("Số hộ chiếu", "passport"), ("SĐT", "phone"), ("Số điện thoại liên hệ", "phone"),
        ("Email", "email"), ("Thư điện tử", "email"), ("Địa chỉ email", "email"),
        ("Địa chỉ thường trú", "address"), ("Nơi thường trú", "address"), ("Nơi ở hiện nay", "address"),
        ("Quê quán", "hometown"), ("Giới tính", "gender"), ("Dân tộc", "ethnicity"),
        ("Tôn giáo", "religion"), ("Mã số thuế cá nhân", "tax_id"), ("Số BHXH", "social_insurance"),
        ("Biển số xe", "vehicle_plate"),
        ("Địa chỉ truy cập", None), ("Điện thoại đường dây nóng", None), ("Tên miền", None),
        ("Tỷ lệ hộ dân tộc thiểu số", None), ("Ngày ban hành", None), ("Năm bắt đầu", None),
    ],
)
def test_header_kinds(header, kind):
    assert header_kind(header) == kind


@pytest.mark.parametrize(
    "value",
    [
        "1.886.105", "1,886,105", "1.886.105.123", "123456789.5", "0.912345678", "105.84117",
        "Quyết định 1234/QĐ-UBND", "Quyết định số 2404/QĐ-UBND ngày 31/12/2021", "2026-2030",
        "2024-04-09", "4659379", "150000000", "100000000000", "264215437123", "999912345678",
        "0792010012345", "Mã hồ sơ H36.22-240409-000123", "QĐ-079201001234",
    ],
)
def test_statistics_are_not_personal_values(value):
    assert list(scan_text(value)) == []


def test_amount_columns_are_not_cmnd(tmp_path):
    amounts = [123456789, 98765432, 2345678901, 234567891, 45678912, 150000000, 3456789012]
    text = "Hạng mục,Kinh phí (đồng)\n" + "".join(f"Mục {i},{a}\n" for i, a in enumerate(amounts))
    assert not scan_file(_csv(tmp_path, text), "CSV").has_findings


def test_cmnd_column_without_leading_zero(tmp_path):
    text = "STT,Số giấy tờ\n" + "".join(f"{i},25{i:07d}\n" for i in range(1, 11))
    report = scan_file(_csv(tmp_path, text), "CSV")
    assert _kinds(_column(report, "Số giấy tờ")) == {"cmnd": 10}


def test_xlsx_findings_on_the_second_sheet(tmp_path):
    workbook = openpyxl.Workbook()
    summary = workbook.active
    summary.title = "Tổng hợp"
    summary.append(["Chỉ tiêu", "Giá trị"])
    summary.append(["Số hộ", 1200])
    people = workbook.create_sheet("Danh sách")
    people.append(["DANH SÁCH HỘ NHẬN HỖ TRỢ"])
    people.append(["STT", "Chủ hộ", "Số CCCD", "Điện thoại"])
    people.append([1, "Nguyễn Văn Ân", "079201001234", 912345678])
    people.append([2, "Lê Thị Hoa", "068301004567", 987654321])
    path = tmp_path / "stored-without-extension"
    workbook.save(path)
    report = scan_file(path, "XLSX")
    assert report.error is None and report.rows_scanned == 3
    assert {c.sheet for c in report.columns} == {"Danh sách"}
    cccd = _column(report, "Số CCCD", "Danh sách")
    assert cccd.header_kind == "citizen_id" and _kinds(cccd) == {"cccd": 2}
    phone = _column(report, "Điện thoại", "Danh sách")  # Excel dropped the leading 0
    assert phone.header_kind == "phone" and _kinds(phone) == {"phone": 2}


def test_semicolon_csv_in_windows_1258(tmp_path):
    text = "Họ và tên;Địa chỉ;Điện thoại\nNguyễn Văn Ân;Phường Xuân Hương, Đà Lạt;0912 345 678\n"
    path = _csv(tmp_path, text, raw=encode_cp1258(text))
    report = scan_file(path, "CSV")
    assert [c.column for c in report.columns] == ["Họ và tên", "Địa chỉ", "Điện thoại"]
    assert _kinds(_column(report, "Điện thoại")) == {"phone": 1}


@pytest.mark.parametrize("codec", ["tcvn3", "utf-16", "utf-8-sig"])
def test_other_encodings(tmp_path, codec):
    text = "Họ và tên\tSố CCCD\nNguyễn Văn Ân\t079201001234\n"
    report = scan_file(_csv(tmp_path, text, raw=text.encode(codec)), "TSV")
    assert [c.column for c in report.columns] == ["Họ và tên", "Số CCCD"]
    assert report.to_dict() == scan_file(tmp_path / "data.csv", "TSV", codec).to_dict()


def test_max_rows_stops_early(tmp_path):
    text = "STT,Điện thoại\n" + "".join(f"{i},0912345{i:03d}\n" for i in range(100))
    report = scan_file(_csv(tmp_path, text), "CSV", max_rows=10)
    assert (report.rows_scanned, report.truncated) == (10, True)
    assert _kinds(report.columns[0]) == {"phone": 10}


@pytest.mark.parametrize(
    "fmt, raw",
    [
        ("XLSX", b"PK\x03\x04 not really a workbook"),
        ("XLSX", b"STT,Ten\n1,A\n"),
        ("CSV", b"\x00\x01\x02\x03" * 100),
        ("PDF", b"%PDF-1.7"),
    ],
)
def test_malformed_files_give_an_error_not_an_exception(tmp_path, fmt, raw):
    path = tmp_path / "upload"
    path.write_bytes(raw)
    report = scan_file(path, fmt)
    assert report.error and not report.has_findings
    assert report.error.startswith(("Không", "Tệp"))


def test_missing_file_gives_an_error(tmp_path):
    assert scan_file(tmp_path / "missing.csv", "CSV").error


def test_report_round_trips_through_json(tmp_path):
    text = "Họ và tên,Email\nNguyễn Văn Ân,an@example.vn\n"
    report = scan_file(_csv(tmp_path, text), "CSV")
    data = json.loads(json.dumps(report.to_dict()))
    assert ScanReport.from_dict(data) == report
    assert data["columns"][1]["findings"][0] == {
        "kind": "email", "label_vi": "Địa chỉ thư điện tử", "count": 1, "samples": ["a***@example.vn"],
    }
    assert ScanReport.from_dict({"error": "x"}).error == "x"


def test_broken_quoting_is_reported_with_its_line(tmp_path):
    text = "a,b\n1,2\n" + '3,"' + "x" * 200_000 + "\n"  # one field past the csv module's limit
    report = scan_file(_csv(tmp_path, text), "CSV")
    assert report.error and "dòng" in report.error


def test_unknown_codec_is_an_error(tmp_path):
    report = scan_file(_csv(tmp_path, "a,b\n1,2\n"), "CSV", "no-such-codec")
    assert report.error == "Không nhận ra bảng mã «no-such-codec» của tệp CSV."
