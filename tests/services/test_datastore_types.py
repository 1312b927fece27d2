"""Column type inference and cell parsing, with Vietnamese number, date and boolean conventions."""

from datetime import date, datetime, timedelta, timezone

import pytest

from opendata.datastore.types import CellError, ckan_type, infer_schema, parse, parser_for


def infer(*columns, **options):
    """The fields inferred for columns given as lists of cells (headers a, b, c…)."""
    headers = [chr(ord("a") + index) for index in range(len(columns))]
    rows = [list(row) for row in zip(*columns)]
    return infer_schema(headers, rows, **options)["fields"]


def field(*values, **options):
    return infer(list(values), **options)[0]


def values(column_field, *cells):
    return [parse(cell, column_field) for cell in cells]


# --- Numbers ---------------------------------------------------------------------------


def test_dot_grouped_integers_are_integers():
    budget = field("1.886.105", "500", "12.004", "")
    assert budget == {"name": "a", "type": "integer", "groupChar": "."}
    assert values(budget, "1.886.105", "500", "12.004", "") == [1886105, 500, 12004, None]


def test_comma_decimals_settle_the_column_and_dots_become_groups():
    rate = field("96,4", "1.234", "100")
    assert rate == {"name": "a", "type": "number", "decimalChar": ",", "groupChar": "."}
    assert values(rate, "96,4", "1.234", "1.234,5", "100") == [96.4, 1234.0, 1234.5, 100.0]


def test_english_style_numbers():
    amount = field("1,886,105", "96.4", "12")
    assert amount == {"name": "a", "type": "number", "groupChar": ","}
    assert values(amount, "1,886,105", "96.4", "-12") == [1886105.0, 96.4, -12.0]


def test_percentages_keep_the_number_and_mark_the_unit():
    share = field("96,4%", "100%", "80,53 %", "0")
    assert share["type"] == "number" and share["unit"] == "%" and share["decimalChar"] == ","
    assert values(share, "96,4%", "100%", "80,53 %", "0") == [96.4, 100.0, 80.53, 0.0]
    assert field("50%", "100%")["type"] == "integer"


def test_a_lone_ambiguous_value_reads_as_a_decimal_by_default():
    # datasets/du-an-dau-tu-…: «Tổng vốn (tỷ đồng)» is 34, 12, 29.512, 50 — 29,512 billion.
    capital = field("34", "12", "29.512", "50")
    assert capital == {"name": "a", "type": "number"}
    assert parse("29.512", capital) == 29.512


def test_the_decimal_hint_settles_a_lone_ambiguous_value():
    assert field("34", "29.512", decimal_hint=",") == {"name": "a", "type": "integer", "groupChar": "."}


def test_several_three_digit_groups_are_whole_amounts():
    price = field("1.500", "12.000", "300")
    assert price == {"name": "a", "type": "integer", "groupChar": "."}
    assert values(price, "1.500", "12.000") == [1500, 12000]


def test_other_columns_settle_an_ambiguous_column():
    rate, price = infer(["96,4", "80,5"], ["29.512", "7"])
    assert rate["decimalChar"] == ","
    assert price == {"name": "b", "type": "integer", "groupChar": "."}


def test_conflicting_conventions_leave_the_column_text():
    assert field("1.886.105", "96.4")["type"] == "string"


@pytest.mark.parametrize("code", ["007", "0912345678", "001204012345", "1234567890123456789"])
def test_codes_with_leading_zeros_or_too_many_digits_are_text(code):
    assert field("12", code)["type"] == "string"


def test_signs_and_the_unicode_minus():
    delta = field("-5", "+3", "−2")
    assert delta["type"] == "integer"
    assert values(delta, "-5", "+3", "−2") == [-5, 3, -2]


def test_typed_cells_from_spreadsheets_and_json():
    assert field(1, 2, None)["type"] == "integer"
    assert field(1, 2.5)["type"] == "number"
    assert field(3.0, 4)["type"] == "integer"
    assert parse(3.0, {"name": "a", "type": "integer"}) == 3
    with pytest.raises(CellError):
        parse(3.5, {"name": "a", "type": "integer"})


# --- Dates, datetimes, booleans ------------------------------------------------------------


def test_day_first_dates():
    issued = field("03/06/2021", "24/11/2025", "1/7/2025", "")
    assert issued == {"name": "a", "type": "date", "format": "%d/%m/%Y"}
    assert values(issued, "03/06/2021", "1/7/2025") == [date(2021, 6, 3), date(2025, 7, 1)]


def test_iso_dates_and_other_separators():
    assert field("2023-01-16", "2024-04-09") == {"name": "a", "type": "date", "format": "default"}
    assert field("16.01.2023", "9.4.2024")["format"] == "%d.%m.%Y"
    assert field("16-01-2023")["format"] == "%d-%m-%Y"


def test_month_first_only_when_day_first_cannot_be():
    assert field("03/06/2021", "12/25/2021")["format"] == "%m/%d/%Y"
    assert field("03/06/2021", "25/12/2021", "12/25/2021")["type"] == "string"


@pytest.mark.parametrize("text", ["7/2023", "12/2024", "03/06/21", "2026-2030", "64/QĐ-STC"])
def test_month_years_short_years_and_ranges_are_not_dates(text):
    assert field(text, "03/06/2021")["type"] == "string"


def test_datetimes():
    stamp = field("2025-07-01T08:30:00", "2025-07-02 17:05")
    assert stamp == {"name": "a", "type": "datetime", "format": "default"}
    assert parse("2025-07-01T08:30:00+07:00", stamp) == datetime(
        2025, 7, 1, 8, 30, tzinfo=timezone(timedelta(hours=7))
    )
    local = field("01/07/2025 08:30", "2/7/2025 17:05")
    assert local["format"] == "%d/%m/%Y %H:%M"
    assert parse("2/7/2025 17:05", local) == datetime(2025, 7, 2, 17, 5)


def test_spreadsheet_dates_at_midnight_are_dates():
    assert field(datetime(2025, 7, 1), datetime(2025, 7, 2))["type"] == "date"
    assert field(datetime(2025, 7, 1, 8, 30))["type"] == "datetime"
    assert parse(datetime(2025, 7, 1), {"name": "a", "type": "date"}) == date(2025, 7, 1)


def test_vietnamese_booleans():
    done = field("Có", "không", "", "CÓ")
    assert done["type"] == "boolean" and done["trueValues"] == ["Có", "CÓ"] and done["falseValues"] == ["không"]
    assert values(done, "Có", "KHÔNG", "", "cÓ") == [True, False, None, True]
    assert field("Đúng", "Sai")["type"] == "boolean"
    assert field("TRUE", "false")["type"] == "boolean"


def test_x_marks_stay_text_until_the_publisher_says_otherwise():
    assert field("x", "", "x")["type"] == "string"
    marks = {"name": "a", "type": "boolean", "trueValues": ["x"], "falseValues": []}
    assert values(marks, "x", "X", "") == [True, True, None]


# --- Nulls and errors ----------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "  ", "-", "–", "—", "N/A", "n/a", "#N/A", "#DIV/0!", None])
def test_null_tokens(token):
    assert field("1.886.105", token)["type"] == "integer"
    assert parse(token, {"name": "a", "type": "integer"}) is None
    assert parse(token, {"name": "a", "type": "string"}) is None


def test_khong_co_is_an_answer_not_a_null():
    assert field("12", "không có")["type"] == "string"


def test_an_empty_column_is_text():
    assert field("", None, "-") == {"name": "a", "type": "string"}


def test_a_value_that_breaks_the_type_raises_cell_error_in_vietnamese():
    budget = {"name": "Kinh phí (triệu đồng)", "type": "integer", "groupChar": "."}
    with pytest.raises(CellError) as error:
        parse("Đang cập nhật", budget)
    assert "Kinh phí (triệu đồng)" in str(error.value) and "số nguyên" in str(error.value)
    with pytest.raises(CellError):
        parse("12,5", budget)
    with pytest.raises(CellError):
        parse("31/02/2024", {"name": "d", "type": "date", "format": "%d/%m/%Y"})


def test_a_publisher_changed_type_revalidates_with_the_same_parser():
    # Inferred integer, the publisher makes it a number: grouped values still parse.
    changed = {"name": "a", "type": "number", "groupChar": "."}
    assert values(changed, "1.886.105", "96,4") == [1886105.0, 96.4]
    text = {"name": "a", "type": "string"}
    assert values(text, "1.886.105", 5, 2.0, date(2025, 7, 1)) == ["1.886.105", "5", "2", "2025-07-01"]


def test_a_custom_date_format_uses_strptime():
    assert parse("2025/07/01", {"name": "d", "type": "date", "format": "%Y/%m/%d"}) == date(2025, 7, 1)


def test_inference_reads_only_the_sample():
    column = ["1"] * 50 + ["Tổng cộng"]
    assert field(*column, sample_rows=50)["type"] == "integer"
    assert field(*column)["type"] == "string"


def test_schema_declares_its_missing_values():
    schema = infer_schema(["a"], [["1"]])
    assert "-" in schema["missingValues"] and "không có" not in schema["missingValues"]


@pytest.mark.parametrize(
    "kind, expected",
    [("integer", "int"), ("number", "numeric"), ("string", "text"), ("date", "date"),
     ("datetime", "timestamp"), ("boolean", "bool")],
)
def test_ckan_type_names(kind, expected):
    assert ckan_type({"name": "a", "type": kind}) == expected


def test_frictionless_reads_inferred_numbers_and_dates_the_same_way(tmp_path):
    frictionless = pytest.importorskip("frictionless")
    rows = [["96,4%", "03/06/2021", "1.234,5"], ["80,53%", "24/11/2025", "7"]]
    schema = infer_schema(["rate", "day", "amount"], rows)
    path = tmp_path / "t.csv"
    path.write_text("rate;day;amount\n" + "\n".join(";".join(row) for row in rows) + "\n", encoding="utf-8")
    resource = frictionless.Resource(str(path), schema=frictionless.Schema.from_descriptor(schema),
                                     dialect=frictionless.Dialect(controls=[frictionless.formats.CsvControl(delimiter=";")]))
    theirs = [[float(row["rate"]), row["day"], float(row["amount"])] for row in resource.read_rows()]
    parsers = [parser_for(f) for f in schema["fields"]]
    ours = [[parser(cell) for parser, cell in zip(parsers, row)] for row in rows]
    assert theirs == ours

