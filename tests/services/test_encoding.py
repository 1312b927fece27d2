import codecs
import unicodedata

import pytest

from opendata.storage.encoding import decode, detect, encode_cp1258, open_text, vietnamese_score

SAMPLE = "Họ và tên;Địa chỉ\nNguyễn Văn Ân;Phường Xuân Hương, Đà Lạt\n"
TONES = "\u0300\u0301\u0303\u0309\u0323"
TONED_LOWER = [unicodedata.normalize("NFC", v + t) for v in "aăâeêioôơuưy" for t in TONES]
PLAIN_LOWER = list("ăâêôơưđ")


def test_every_vietnamese_letter_is_counted():
    letters = TONED_LOWER + PLAIN_LOWER
    assert len(letters) + len([c.upper() for c in letters]) == 134


@pytest.mark.parametrize("char", TONED_LOWER + PLAIN_LOWER)
def test_tcvn3_round_trips_every_lower_case_letter(char):
    encoded = char.encode("tcvn3")
    assert len(encoded) == 1 and encoded[0] >= 0xA0
    assert encoded.decode("tcvn3") == char


def test_tcvn3_upper_case_letters_without_tone_have_their_own_codes():
    assert "ĂÂÊÔƠƯĐ".encode("tcvn3") == bytes(range(0xA1, 0xA8))
    assert bytes(range(0xA1, 0xA8)).decode("tcvn3") == "ĂÂÊÔƠƯĐ"


@pytest.mark.parametrize("char", [c.upper() for c in TONED_LOWER])
def test_tcvn3_writes_upper_case_toned_vowels_with_the_lower_case_code(char):
    # VN3 made capitals with a separate font, so the byte only knows the letter.
    assert char.encode("tcvn3") == char.lower().encode("tcvn3")
    assert char.encode("tcvn3").decode("tcvn3") == char.lower()


@pytest.mark.parametrize(
    "text, raw",
    [
        ("á", b"\xb8"), ("à", b"\xb5"), ("ả", b"\xb6"), ("ã", b"\xb7"), ("ạ", b"\xb9"),
        ("ắ", b"\xbe"), ("ằ", b"\xbb"), ("ấ", b"\xca"), ("ầ", b"\xc7"), ("é", b"\xd0"),
        ("ế", b"\xd5"), ("í", b"\xdd"), ("ọ", b"\xe4"), ("ộ", b"\xe9"), ("ờ", b"\xea"),
        ("ư", b"\xad"), ("ừ", b"\xf5"), ("ỵ", b"\xfe"), ("đ", b"\xae"), ("Đ", b"\xa7"),
        ("\u00a0", b"\xa0"),
    ],
)
def test_tcvn3_codes_match_the_standard_chart(text, raw):
    assert text.encode("tcvn3") == raw
    assert raw.decode("tcvn3") == text


def test_tcvn3_decodes_words_as_abc_wrote_them():
    assert b"Nguy\xd4n V\xa8n \xa2n".decode("tcvn3") == "Nguyễn Văn Ân"
    assert b"\xa7\xb5 L\xb9t, L\xa9m \xa7\xe5ng".decode("tcvn3") == "Đà Lạt, Lâm Đồng"


def test_tcvn3_codec_is_found_by_its_usual_names():
    assert codecs.lookup("TCVN3").name == "tcvn3"
    assert codecs.lookup("tcvn-3").name == "tcvn3"
    assert codecs.lookup("vn3").name == "tcvn3"


def test_tcvn3_vn2_combining_marks_compose_after_decode():
    assert decode(b"a\xb3", "tcvn3") == "á"


def test_cp1258_stores_tones_as_combining_marks():
    raw = encode_cp1258("Nguyễn")
    assert raw == b"Nguy\xea\xden"  # ê, then the combining tilde
    assert decode(raw, "cp1258") == "Nguyễn"
    assert unicodedata.is_normalized("NFC", decode(encode_cp1258(SAMPLE), "cp1258"))


@pytest.mark.parametrize(
    "raw, codec, label, legacy",
    [
        (SAMPLE.encode("utf-8"), "utf-8", "UTF-8", False),
        (SAMPLE.encode("utf-8-sig"), "utf-8-sig", "UTF-8 có BOM", False),
        (SAMPLE.encode("utf-16"), "utf-16", "UTF-16", True),
        (codecs.BOM_UTF16_BE + SAMPLE.encode("utf-16-be"), "utf-16", "UTF-16", True),
        (SAMPLE.encode("utf-16-le"), "utf-16-le", "UTF-16 (không có BOM)", True),
        (encode_cp1258(SAMPLE), "cp1258", "Windows-1258", True),
        (SAMPLE.encode("tcvn3"), "tcvn3", "TCVN3 (ABC)", True),
    ],
)
def test_detect_and_round_trip_files(tmp_path, raw, codec, label, legacy):
    path = tmp_path / "data.csv"
    path.write_bytes(raw)
    detected = detect(path.read_bytes()[:4096])
    assert (detected.codec, detected.label, detected.legacy) == (codec, label, legacy)
    assert decode(path.read_bytes(), detected.codec).lstrip("\ufeff") == SAMPLE


def test_pure_ascii_reads_as_utf8_which_survives_later_non_ascii():
    assert detect(b"STT,Ten,Gia tri\n1,Da Lat,3\n") == detect(SAMPLE.encode())
    assert detect(b"STT,Ten\n").codec == "utf-8"


def test_detect_tolerates_a_sample_cut_mid_character():
    raw = ("Đà Lạt " * 100).encode("utf-8")
    cut = raw[: raw.index("ạ".encode()) + 1]
    assert detect(cut).codec == "utf-8"


@pytest.mark.parametrize(
    "codec, encoder", [("tcvn3", lambda t: t.encode("tcvn3")), ("cp1258", encode_cp1258)]
)
def test_detect_legacy_encodings_on_longer_text(codec, encoder):
    text = SAMPLE + "Trần Thị Bích Ngọc;Xã Lạc Dương, tỉnh Lâm Đồng\nLê Quốc Việt;Thành phố Hồ Chí Minh\n" * 50
    assert detect(encoder(text)[:10_000]).codec == codec


def test_wrong_decodings_score_below_the_right_one():
    cp = encode_cp1258(SAMPLE)
    tc = SAMPLE.encode("tcvn3")
    assert vietnamese_score(cp.decode("cp1258")) > vietnamese_score(cp.decode("tcvn3"))
    assert vietnamese_score(tc.decode("tcvn3")) > vietnamese_score(tc.decode("cp1258", errors="replace"))


def test_non_vietnamese_latin_text_falls_back_to_charset_normalizer():
    raw = ("Grüße aus Köln und München, schöne Straße. " * 20).encode("cp1252")
    detected = detect(raw)
    assert detected.codec not in ("cp1258", "tcvn3", "utf-8")
    assert detected.legacy
    assert "München" in decode(raw, detected.codec)


@pytest.mark.parametrize(
    "codec, encoder",
    [
        ("utf-8-sig", lambda t: t.encode("utf-8-sig")),
        ("utf-16", lambda t: t.encode("utf-16")),
        ("cp1258", encode_cp1258),
        ("tcvn3", lambda t: t.encode("tcvn3")),
    ],
)
def test_open_text_streams_nfc_lines(tmp_path, codec, encoder):
    path = tmp_path / "data.csv"
    path.write_bytes(encoder(SAMPLE * 1000))
    with open_text(path, codec) as stream:
        first = next(stream)
        assert first == "Họ và tên;Địa chỉ\n"
        rest = list(stream)
    assert len(rest) == 1999
    assert rest[0] == "Nguyễn Văn Ân;Phường Xuân Hương, Đà Lạt\n"
    assert all(unicodedata.is_normalized("NFC", line) for line in rest)


def test_open_text_keeps_line_endings_for_csv(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b'a,"b\r\nc"\r\n1,2\r\n')
    with open_text(path, "utf-8") as stream:
        assert list(stream) == ['a,"b\r\n', 'c"\r\n', "1,2\r\n"]
