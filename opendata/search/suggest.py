"""“Did you mean”: the closest words that published datasets really use.

The vocabulary comes only from published datasets' titles and tags, so a
suggestion can never reveal a word of an unpublished dataset. It is cached per
process and rebuilt when the catalogue's latest change moves.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select

from opendata.catalog.models import Dataset, DatasetState, Tag, dataset_tag
from opendata.extensions import db
from opendata.search.text import parse_query, words
from opendata.text import fold

_lock = threading.Lock()
_cache: dict[str, object] = {}


@dataclass(frozen=True)
class Vocabulary:
    spelling: dict[str, str]  # folded word -> its most frequent written form
    frequency: dict[str, int]  # folded word -> how many times it is used


def _published():
    return select(Dataset).where(Dataset.state == DatasetState.PUBLISHED, Dataset.deleted_at.is_(None))


def vocabulary() -> Vocabulary:
    stamp = db.session.execute(
        select(func.max(Dataset.updated_at), func.count(Dataset.id))
        .where(Dataset.state == DatasetState.PUBLISHED, Dataset.deleted_at.is_(None))).one()
    with _lock:
        if _cache.get("stamp") == tuple(stamp):
            return _cache["vocabulary"]  # type: ignore[return-value]
    written: Counter[str] = Counter()
    for (title,) in db.session.execute(_published().with_only_columns(Dataset.title)):
        written.update(words(title))
    tags = select(Tag.name).join(dataset_tag).where(dataset_tag.c.dataset_id.in_(
        _published().with_only_columns(Dataset.id))).distinct()
    for (tag,) in db.session.execute(tags):
        written.update(words(tag))
    spelling: dict[str, str] = {}
    frequency: Counter[str] = Counter()
    for word, count in written.most_common():
        folded = fold(word)
        spelling.setdefault(folded, word)
        frequency[folded] += count
    result = Vocabulary(spelling, dict(frequency))
    with _lock:
        _cache.update(stamp=tuple(stamp), vocabulary=result)
    return result


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, giving up (limit + 1) once it must exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def did_you_mean(q: str) -> str | None:
    """The query respelled with the closest known words, or None when nothing is closer."""
    clauses = parse_query(q)
    if not clauses:
        return None
    known = vocabulary()
    corrected, changed = [], False
    for clause in clauses:
        for folded in clause.folded:
            if folded in known.frequency:
                corrected.append(known.spelling[folded])
                changed = changed or known.spelling[folded] not in clause.exact
                continue
            limit = 1 if len(folded) <= 4 else 2
            best = min(
                ((_distance(folded, candidate, limit), -count, candidate) for candidate, count in known.frequency.items()
                 if abs(len(candidate) - len(folded)) <= limit),
                default=None,
            )
            if best is None or best[0] > limit:
                return None
            corrected.append(known.spelling[best[2]])
            changed = True
    return " ".join(corrected) if changed else None
