"""Vietnamese text for search: tokens, folding, stop words, query parsing and snippets.

Both backends index and query through these functions, so they agree on what a
word is: NFC, case-folded, split on non-word characters; the folded form drops
diacritics (``đ`` → ``d``) so that ``truong hoc`` finds ``trường học``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup, escape

from opendata.text import fold, nfc

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_CLAUSES = 24  # longer queries are cut: every clause costs a lookup in each backend
_CLAUSE = re.compile(r'"([^"]*)"|(\S+)')

# Function words too common to help ranking. A query made only of them still
# searches for them (see parse_query), so "và" alone is not an empty search.
STOP_WORDS = frozenset(nfc(word) for word in (
    "và của các những là có được cho trong theo về với một này đó thì mà để từ tại như khi đã sẽ "
    "đang bị do nên vì hay hoặc cũng rất"
).split())


MAX_WORD = 100  # characters: a pasted URL or base64 blob is no word, and PostgreSQL caps lexemes


def words(text: str | None) -> list[str]:
    """Case-folded NFC words of a text, diacritics kept, each at most MAX_WORD long."""
    return [word[:MAX_WORD] for word in _WORD.findall(nfc(text or "").casefold())]


def folded_words(text: str | None) -> list[str]:
    return [fold(word) for word in words(text)]


@dataclass(frozen=True)
class Clause:
    """A word or a quoted phrase of a query, in exact (diacritics kept) and folded forms."""

    exact: tuple[str, ...]
    folded: tuple[str, ...]

    @property
    def is_phrase(self) -> bool:
        return len(self.exact) > 1


def parse_query(q: str | None, *, drop_stop_words: bool = True) -> list[Clause]:
    """Split a query into clauses: quoted phrases and single words, stop words dropped
    (kept for autocomplete, where the last word may be the start of a longer one).

    Operators and field syntax are not supported on purpose: whatever people type
    is text to look for, never a query-language error.
    """
    clauses: list[Clause] = []
    for phrase, word in _CLAUSE.findall(nfc(q or "")):
        tokens = words(phrase if phrase else word)
        if not tokens:
            continue
        if phrase and len(tokens) > 1:
            clauses.append(Clause(tuple(tokens), tuple(fold(token) for token in tokens)))
        else:
            clauses.extend(Clause((token,), (fold(token),)) for token in tokens)
    clauses = clauses[:MAX_CLAUSES]
    if not drop_stop_words:
        return clauses
    meaningful = [clause for clause in clauses if clause.is_phrase or clause.exact[0] not in STOP_WORDS]
    return meaningful or clauses


def highlight(text: str | None, clauses: list[Clause], *, width: int = 30) -> Markup:
    """A snippet of ``text`` around the first matching word, matches wrapped in <mark>."""
    source = nfc(text or "")
    targets = {word for clause in clauses for word in clause.folded}
    tokens = [(match.start(), match.end(), fold(match.group().casefold())) for match in _WORD.finditer(source)]
    hits = [index for index, (_, _, folded) in enumerate(tokens) if folded in targets]
    if not tokens:
        return Markup("")
    first = hits[0] if hits else 0
    start_index = max(0, first - width // 3)
    end_index = min(len(tokens), start_index + width)
    begin, end = tokens[start_index][0], tokens[end_index - 1][1]
    pieces: list[str] = ["…" if start_index > 0 else ""]
    cursor = begin
    for index in hits:
        if start_index <= index < end_index:
            token_start, token_end, _ = tokens[index]
            pieces.append(str(escape(source[cursor:token_start])))
            pieces.append(f"<mark>{escape(source[token_start:token_end])}</mark>")
            cursor = token_end
    pieces.append(str(escape(source[cursor:end])))
    pieces.append("…" if end_index < len(tokens) else "")
    return Markup("".join(pieces))
