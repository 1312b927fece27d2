"""Legacy Vietnamese text encodings: detect them, decode them to NFC, stream them.

Offices still export CSV files as UTF-8 with a BOM, UTF-16 (Excel's "Unicode
text"), Windows-1258 and TCVN3 (the ABC fonts). Python knows Windows-1258 as
``cp1258`` but has no TCVN3 codec, so importing this module registers one named
``tcvn3``.

TCVN3 (TCVN 5712:1993, VN3) keeps ASCII and adds, in 0xA0-0xFF, the no-break
space, the 67 lower-case Vietnamese letters and the seven upper-case letters
without a tone (Ă Â Ê Ô Ơ Ư Đ). Upper-case toned vowels have no code of their
own: ABC documents typed them with the lower-case codes in a separate capitals
font (.VnTimeH), so the font, not the byte, made them upper-case. Hence:

* decoding VN3 text gives lower-case toned vowels even where the document showed
  capitals: ``HỌ TÊN`` typed in .VnTimeH is stored as ``H\xe4 T\xa3N`` and decodes
  as ``Họ TÊN``;
* the encoder writes an upper-case toned vowel with its lower-case code, which
  is what ABC itself did (lossy: ``Ố`` → 0xE8 → ``ố``);
* the 21 codes that VN3 leaves empty in 0xA0-0xFF decode as their VN2 (TCVN
  5712 part 2) meanings, five combining tone marks and 16 upper-case toned
  vowels, because VN2 is a superset of VN3 and some converters emitted them;
* 0x80-0x9F are the C1 control codes, as the standard leaves them.

The table is transcribed from the TCVN 5712:1993 code chart (VN2/VN3 share 0xA0-0xFF)
and was checked against the TCVN table of GNU libiconv and the XFree86 TCVN font
converter; the tests round-trip all 134 Vietnamese letters.
"""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import charset_normalizer

# --------------------------------------------------------------------------
# The TCVN3 codec
# --------------------------------------------------------------------------

# Bytes 0xA0-0xFF, sixteen to a row. Escapes mark the no-break space and the
# combining tone marks (0xB0-0xB4), which would be invisible in the source.
_TCVN3_HIGH = (
    "\u00a0ĂÂÊÔƠƯĐăâêôơưđẰ"  # 0xA0
    "\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴ"  # 0xB0
    "ẮẦẨẪẤỀặầẩẫấậèỂẻẽ"  # 0xC0
    "éẹềểễếệìỉỄẾỒĩíịò"  # 0xD0
    "Ổỏõóọồổỗốộờởỡớợù"  # 0xE0
    "ỖủũúụừửữứựỳỷỹýỵỐ"  # 0xF0
)
assert len(_TCVN3_HIGH) == 96

# 0x00-0x9F are ASCII and the C1 controls, unchanged.
_DECODING_TABLE = "".join(chr(i) for i in range(0xA0)) + _TCVN3_HIGH

_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"


def _encoding_map() -> dict[int, int]:
    """Unicode → byte, adding the upper-case toned vowels that VN3 writes in lower case."""
    mapping = {ord(char): byte for byte, char in enumerate(_DECODING_TABLE)}
    for byte in range(0xA0, 0x100):
        char = _DECODING_TABLE[byte]
        if char.isupper() and any(m in unicodedata.normalize("NFD", char) for m in _TONE_MARKS):
            del mapping[ord(char)]  # VN2 only: ABC fonts have no glyph there
    for byte in range(0xA0, 0x100):
        char = _DECODING_TABLE[byte]
        if char.islower() and ord(char.upper()) not in mapping:
            mapping[ord(char.upper())] = byte
    return mapping


_ENCODING_MAP = _encoding_map()


def _tcvn3_encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
    # NFC first: the map holds precomposed letters only.
    return codecs.charmap_encode(unicodedata.normalize("NFC", text), errors, _ENCODING_MAP)[0], len(text)


def _tcvn3_decode(data: bytes, errors: str = "strict") -> tuple[str, int]:
    return codecs.charmap_decode(data, errors, _DECODING_TABLE)


class _IncrementalEncoder(codecs.IncrementalEncoder):
    def encode(self, input: str, final: bool = False) -> bytes:
        return _tcvn3_encode(input, self.errors)[0]


class _IncrementalDecoder(codecs.IncrementalDecoder):
    # One byte is one character, so no state is ever carried between chunks.
    def decode(self, input: bytes, final: bool = False) -> str:
        return _tcvn3_decode(input, self.errors)[0]


class _StreamWriter(codecs.StreamWriter):
    def encode(self, input: str, errors: str = "strict") -> tuple[bytes, int]:
        return _tcvn3_encode(input, errors)


class _StreamReader(codecs.StreamReader):
    def decode(self, input: bytes, errors: str = "strict") -> tuple[str, int]:
        return _tcvn3_decode(input, errors)


_TCVN3_NAMES = {"tcvn3", "tcvn_3", "tcvn", "vn3", "tcvn5712_3", "vscii_3"}
_TCVN3_INFO = codecs.CodecInfo(
    name="tcvn3",
    encode=_tcvn3_encode,
    decode=_tcvn3_decode,
    incrementalencoder=_IncrementalEncoder,
    incrementaldecoder=_IncrementalDecoder,
    streamwriter=_StreamWriter,
    streamreader=_StreamReader,
)


def _search(name: str) -> codecs.CodecInfo | None:
    return _TCVN3_INFO if name.lower().replace("-", "_") in _TCVN3_NAMES else None


codecs.register(_search)


# --------------------------------------------------------------------------
# Windows-1258 output
# --------------------------------------------------------------------------


def encode_cp1258(text: str, errors: str = "strict") -> bytes:
    """Encode like Windows does: precomposed where cp1258 has the letter, else base + tone mark.

    Python's ``cp1258`` codec refuses ``ố`` because the code page stores most
    toned vowels as a base letter (``ô``) followed by a combining tone mark; this
    builds test files and exports the way Vietnamese Windows programs write them.
    """
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        decomposed = unicodedata.normalize("NFD", char)
        tones = "".join(m for m in decomposed if m in _TONE_MARKS)
        base = unicodedata.normalize("NFC", "".join(m for m in decomposed if m not in _TONE_MARKS))
        out += (base + tones).encode("cp1258", errors)
    return bytes(out)


# --------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Detected:
    """How to read a text file: the Python codec, a label for the publisher, and
    ``legacy`` when it is not UTF-8, so the portal can offer a UTF-8 copy."""

    codec: str
    label: str
    legacy: bool


_BOMS: tuple[tuple[bytes, Detected], ...] = (
    # UTF-32 before UTF-16: the UTF-32-LE BOM starts with the UTF-16-LE one.
    (codecs.BOM_UTF32_LE, Detected("utf-32", "UTF-32", True)),
    (codecs.BOM_UTF32_BE, Detected("utf-32", "UTF-32", True)),
    (codecs.BOM_UTF8, Detected("utf-8-sig", "UTF-8 có BOM", False)),
    (codecs.BOM_UTF16_LE, Detected("utf-16", "UTF-16", True)),
    (codecs.BOM_UTF16_BE, Detected("utf-16", "UTF-16", True)),
)

UTF8 = Detected("utf-8", "UTF-8", False)
CP1258 = Detected("cp1258", "Windows-1258", True)
TCVN3 = Detected("tcvn3", "TCVN3 (ABC)", True)

_VOWELS = "aăâeêioôơuưy"
_SYLLABLE = re.compile(
    r"(?:ngh|ng|gh|gi|kh|nh|ph|th|tr|ch|qu|[bcdđghklmnpqrstvx])?"
    rf"[{_VOWELS}]{{1,3}}"
    r"(?:ng|nh|ch|[cmnpt])?"
)
_WORD = re.compile(r"[^\W\d_]+")
_VIETNAMESE_LETTERS = frozenset(
    unicodedata.normalize("NFC", base + tone)
    for base in "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY"
    for tone in ("", *_TONE_MARKS)
) | frozenset("đĐ")


def _is_syllable(word: str) -> bool:
    """True for a plausible Vietnamese syllable: one tone at most, a known shape, sane case."""
    if not (word.islower() or word.isupper() or word.istitle()):
        return False  # `NguyÔn`: a TCVN3 file read as Windows-1258
    decomposed = unicodedata.normalize("NFD", word.lower())
    if sum(decomposed.count(m) for m in _TONE_MARKS) > 1:
        return False  # `nguyừịn`: a Windows-1258 file read as TCVN3
    toneless = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONE_MARKS))
    return _SYLLABLE.fullmatch(toneless) is not None


def _odd_char(char: str) -> bool:
    """Non-ASCII characters that Vietnamese text does not contain."""
    if char.isascii() or char in _VIETNAMESE_LETTERS:
        return False
    return char not in "\u00a0–—‘’“”…•€«»°"


def vietnamese_score(text: str) -> int:
    """How much ``text`` looks like Vietnamese: non-ASCII syllables minus oddities.

    Only words with a non-ASCII letter count, since ASCII words read the same in
    every candidate encoding and so tell nothing.
    """
    text = unicodedata.normalize("NFC", text)
    score = 0
    for word in _WORD.findall(text):
        if not word.isascii():
            score += 1 if _is_syllable(word) else -2
    score -= 2 * sum(1 for char in text if _odd_char(char))
    return score


def _valid_utf8(sample: bytes) -> bool:
    # final=False: a sample cut in the middle of a character is still valid.
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _bomless_utf16(sample: bytes) -> Detected | None:
    """Excel and some exporters write UTF-16 without a BOM: every other byte is NUL."""
    head = sample[:4096]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return Detected("utf-16-le", "UTF-16 (không có BOM)", True)
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return Detected("utf-16-be", "UTF-16 (không có BOM)", True)
    return None


def _single_byte_vietnamese(sample: bytes) -> Detected | None:
    """Windows-1258 or TCVN3, whichever decoding reads as Vietnamese; None if neither does."""
    scores = {
        CP1258: vietnamese_score(sample.decode("cp1258", errors="replace")),
        TCVN3: vietnamese_score(sample.decode("tcvn3", errors="replace")),
    }
    best = max(scores, key=lambda detected: scores[detected])
    return best if scores[best] > 0 else None


def _fallback(sample: bytes) -> Detected:
    """Non-Vietnamese single-byte text: let charset-normalizer guess, Latin-1 if it cannot."""
    match = charset_normalizer.from_bytes(sample).best()
    if match is None:
        return Detected("latin-1", "Không rõ (đọc như Latin-1)", True)
    return Detected(match.encoding, match.encoding, True)


def detect(sample: bytes) -> Detected:
    """Guess the encoding of the first bytes of a text file.

    Order: byte-order marks, BOM-less UTF-16, valid UTF-8 (pure ASCII included,
    since UTF-8 reads it identically and still copes if non-ASCII text comes
    after the sample), then Windows-1258 against TCVN3 by which one reads as
    Vietnamese, then charset-normalizer.
    """
    for bom, detected in _BOMS:
        if sample.startswith(bom):
            return detected
    utf16 = _bomless_utf16(sample)
    if utf16 is not None:
        return utf16
    if _valid_utf8(sample):
        return UTF8
    return _single_byte_vietnamese(sample) or _fallback(sample)


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------


def decode(data: bytes, codec: str, *, errors: str = "replace") -> str:
    """Decode to NFC text. Windows-1258 yields combining tone marks; NFC joins them.

    Undecodable bytes become U+FFFD by default: a preview with one odd character
    is more useful to a publisher than an error.
    """
    return unicodedata.normalize("NFC", data.decode(codec, errors=errors))


class TextStream:
    """Lines of a text file in NFC, decoded as they are read, for ``csv.reader``.

    Lines keep their endings and the file is opened with ``newline=""``, as the
    csv module requires for quoted fields that span lines. A line break never
    splits a base letter from its tone mark, so line-by-line NFC is exact.
    """

    def __init__(self, path: str | Path, codec: str, *, errors: str = "replace"):
        self._file = io.open(path, encoding=codec, errors=errors, newline="")

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return unicodedata.normalize("NFC", next(self._file))

    def readline(self) -> str:
        return unicodedata.normalize("NFC", self._file.readline())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TextStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_text(path: str | Path, codec: str, *, errors: str = "replace") -> TextStream:
    """Open a text file for streaming NFC lines; never reads the whole file."""
    return TextStream(path, codec, errors=errors)


_HTTP_CHARSETS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "ascii": "utf-8", "utf-16": "utf-16", "cp1258": "windows-1258"}


def http_charset(codec: str | None) -> str | None:
    """The IANA name to send in ``Content-Type`` for a detected codec; None when there is none (TCVN3)."""
    return _HTTP_CHARSETS.get(codec or "")
