"""Vietnamese text helpers: NFC normalisation, diacritic folding, URL names."""

from __future__ import annotations

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def nfc(value: str) -> str:
    """Normalise to Unicode NFC, the one form the portal stores."""
    return unicodedata.normalize("NFC", value)


def fold(value: str) -> str:
    """Lower-case and strip diacritics, so that `Đà Lạt` and `da lat` compare equal."""
    decomposed = unicodedata.normalize("NFD", value.casefold())
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return stripped.replace("đ", "d")


def slugify(value: str, max_length: int = 100) -> str:
    """CKAN-like URL name from a Vietnamese title: `Chuyển đổi số` -> `chuyen-doi-so`."""
    slug = _NON_ALNUM.sub("-", fold(value)).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0] or slug[:max_length]
    return slug
