from opendata.text import fold, nfc, slugify


def test_fold_removes_diacritics_and_case():
    assert fold("Đà Lạt") == "da lat"
    assert fold("TRƯỜNG HỌC") == "truong hoc"
    assert fold(nfc("Chuye\u0302\u0309n đổi số")) == "chuyen doi so"


def test_nfc_composes_decomposed_vietnamese():
    decomposed = "Le\u0302m Đo\u0302\u0300ng"
    assert nfc(decomposed) != decomposed
    assert len(nfc(decomposed)) < len(decomposed)


def test_slugify_makes_ckan_like_names():
    assert slugify("Danh mục nhiệm vụ, dự án chuyển đổi số 2026–2030") == \
        "danh-muc-nhiem-vu-du-an-chuyen-doi-so-2026-2030"
    assert slugify("  --  ") == ""
    long = slugify("từ " * 80)
    assert len(long) <= 100 and not long.endswith("-")
