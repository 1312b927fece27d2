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


def _fold_table() -> dict[int, str | None]:
    """What ``fold`` does to each letter of the Latin scripts, as a ``str.translate`` table."""
    table: dict[int, str | None] = {}
    for code in range(0x80, 0x2000):
        char = chr(code)
        folded = fold(char)
        if folded != char.lower():
            table[code] = folded or None
    return table


_FOLD = _fold_table()


def fold_fast(value: str) -> str:
    """``fold`` for loading millions of cells: one table lookup per character, same answer on NFC text."""
    return value.lower().translate(_FOLD)


def slugify(value: str, max_length: int = 100) -> str:
    """CKAN-like URL name from a Vietnamese title: `Chuyển đổi số` -> `chuyen-doi-so`."""
    slug = _NON_ALNUM.sub("-", fold(value)).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0] or slug[:max_length]
    return slug
