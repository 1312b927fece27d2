"""CKAN's ``fq`` (Solr filter query) subset: a tokenizer and a recursive-descent parser into an AST.

The grammar, loosest binding first::

    query    := clauses EOF
    clauses  := either+                      clauses side by side must all hold (CKAN's q.op=AND);
                                             harvesters join their fq terms with spaces
    either   := both ( ("OR" | "||") both )*
    both     := unary ( ("AND" | "&&") unary )*
    unary    := ("NOT" | "!" | "-") unary | "+" unary | primary
    primary  := "(" clauses ")" | "*:*" | FIELD ":" value
    value    := WORD | QUOTED | range | "(" clauses of bare values ")"
    range    := ("[" | "{") bound "TO" bound ("]" | "}")      bound := "*" | WORD | QUOTED

So ``organization:a OR organization:b groups:g`` reads as ``(a OR b) AND g``. Inside
``field:( … )`` bare values belong to that field: ``tags:("a" OR b)``. Anything else
(wildcards, boosts, fuzzy or proximity operators, local params, unknown fields) is
refused with a ``FilterSyntaxError`` that names the part, which the API answers as
CKAN's "Search Query Error".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

# Fields that take values, and fields that take date ranges.
VALUE_FIELDS = frozenset({
    "organization", "owner_org", "groups", "tags", "res_format", "license_id", "update_frequency", "year",
    "name", "id", "capacity", "state", "dataset_type", "type",
})
DATE_FIELDS = frozenset({"metadata_modified", "metadata_created"})
MAX_LENGTH = 4000
MAX_DEPTH = 32


class FilterSyntaxError(ValueError):
    """The filter query is not in the supported subset; the message names the part."""


@dataclass(frozen=True)
class Term:
    field: str
    value: str


@dataclass(frozen=True)
class Range:
    field: str
    low: datetime | None  # naive UTC; None for *
    high: datetime | None
    include_low: bool
    include_high: bool


@dataclass(frozen=True)
class Not:
    node: Node


@dataclass(frozen=True)
class And:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class All:
    """``*:*``: every dataset."""


Node = Term | Range | Not | And | Or | All


# --- tokens -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str  # WORD QUOTED FIELD STAR ( ) [ ] { } AND OR NOT + TO ALL EOF
    text: str
    position: int


_OPERATORS = {"AND": "AND", "OR": "OR", "NOT": "NOT", "TO": "TO", "&&": "AND", "||": "OR"}
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise FilterSyntaxError(f"the filter is longer than {MAX_LENGTH} characters")
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith("*:*", i):
            tokens.append(Token("ALL", "*:*", i))
            i += 3
        elif text.startswith("&&", i) or text.startswith("||", i):
            tokens.append(Token(_OPERATORS[text[i:i + 2]], text[i:i + 2], i))
            i += 2
        elif ch in "()[]{}":
            tokens.append(Token(ch, ch, i))
            i += 1
        elif ch in "+-!" and (not tokens or tokens[-1].kind not in {"WORD", "QUOTED"} or text[i - 1].isspace()):
            tokens.append(Token("NOT" if ch in "-!" else "+", ch, i))
            i += 1
        elif ch == '"':
            value, i = _quoted(text, i)
            tokens.append(Token("QUOTED", value, i))
        elif ch in "^~":
            raise FilterSyntaxError(f"'{ch}' at position {i} (boosts and fuzzy or proximity searches) is not supported")
        elif ch == "*" and (i + 1 == n or text[i + 1].isspace() or text[i + 1] in ")]}"):
            tokens.append(Token("STAR", "*", i))  # an open range bound; a wildcard anywhere else
            i += 1
        else:
            start = i
            word, i = _word(text, i)
            if i < n and text[i] == ":" and _FIELD.fullmatch(word):
                tokens.append(Token("FIELD", word, start))
                i += 1
            elif word in _OPERATORS:
                tokens.append(Token(_OPERATORS[word], word, start))
            else:
                tokens.append(Token("WORD", word, start))
    tokens.append(Token("EOF", "", n))
    return tokens


def _quoted(text: str, start: int) -> tuple[str, int]:
    chars, i = [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            chars.append(text[i + 1])
            i += 2
        elif ch == '"':
            return "".join(chars), i + 1
        else:
            chars.append(ch)
            i += 1
    raise FilterSyntaxError(f"the quote opened at position {start} is not closed")


def _word(text: str, start: int) -> tuple[str, int]:
    """An unquoted value: up to whitespace, a bracket or a colon; backslash escapes a character."""
    chars, i = [], start
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text):
                raise FilterSyntaxError("a backslash ends the filter")
            chars.append(text[i + 1])
            i += 2
            continue
        if ch == ":" and _FIELD.fullmatch("".join(chars)):
            break  # the word is a field name; other colons belong to the value (times)
        if ch.isspace() or ch in '()[]{}"':
            break
        if ch in "*?":
            raise FilterSyntaxError(f"wildcard '{ch}' at position {i} is not supported")
        if ch in "^~":
            raise FilterSyntaxError(f"'{ch}' at position {i} (boosts and fuzzy or proximity searches) is not supported")
        chars.append(ch)
        i += 1
    if i == start:
        raise FilterSyntaxError(f"unexpected '{text[i]}' at position {i}")
    return "".join(chars), i


# --- parser -------------------------------------------------------------------------------

class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def take(self, kind: str) -> Token:
        token = self.token
        if token.kind != kind:
            raise FilterSyntaxError(f"expected {kind_name(kind)} at position {token.position}, found {describe(token)}")
        self.index += 1
        return token

    def clauses(self, field: str | None, closing: str) -> Node:
        nodes = []
        while self.token.kind not in {closing, "EOF"}:
            nodes.append(self.either(field))
        if not nodes:
            raise FilterSyntaxError(f"empty group at position {self.token.position}")
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def either(self, field: str | None) -> Node:
        nodes = [self.both(field)]
        while self.token.kind == "OR":
            self.index += 1
            nodes.append(self.both(field))
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def both(self, field: str | None) -> Node:
        nodes = [self.unary(field)]
        while self.token.kind == "AND":
            self.index += 1
            nodes.append(self.unary(field))
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def unary(self, field: str | None) -> Node:
        kind = self.token.kind
        if kind in {"NOT", "+"}:
            self.index += 1
            self._enter()
            node = self.unary(field)
            self.depth -= 1
            return Not(node) if kind == "NOT" else node
        return self.primary(field)

    def primary(self, field: str | None) -> Node:
        token = self.token
        if token.kind == "(":
            self.index += 1
            self._enter()
            node = self.clauses(field, ")")
            self.depth -= 1
            self.take(")")
            return node
        if token.kind == "ALL":
            self.index += 1
            return All()
        if token.kind == "FIELD":
            if field is not None:
                raise FilterSyntaxError(f"field '{token.text}' inside the values of '{field}' (position {token.position})")
            self.index += 1
            return self.value(_known_field(token))
        if token.kind in {"WORD", "QUOTED"} and field is not None:
            self.index += 1
            return _term(field, token.text)
        if token.kind in {"WORD", "QUOTED"}:
            raise FilterSyntaxError(f"{describe(token)} at position {token.position} has no field; "
                                    "write field:value (free text goes in q)")
        if token.kind == "STAR":
            raise FilterSyntaxError(f"wildcard '*' at position {token.position} is not supported")
        raise FilterSyntaxError(f"unexpected {describe(token)} at position {token.position}")

    def value(self, field: str) -> Node:
        token = self.token
        if token.kind in {"[", "{"}:
            return self.range(field)
        if field in DATE_FIELDS:
            raise FilterSyntaxError(f"'{field}' takes a date range such as [2025-01-01T00:00:00Z TO *]")
        if token.kind in {"WORD", "QUOTED"}:
            self.index += 1
            return _term(field, token.text)
        if token.kind == "(":
            self.index += 1
            self._enter()
            node = self.clauses(field, ")")
            self.depth -= 1
            self.take(")")
            return node
        raise FilterSyntaxError(f"expected a value for '{field}' at position {token.position}, found {describe(token)}")

    def range(self, field: str) -> Node:
        if field not in DATE_FIELDS:
            raise FilterSyntaxError(f"ranges are supported on {', '.join(sorted(DATE_FIELDS))}, not on '{field}'")
        include_low = self.token.kind == "["
        self.index += 1
        low = self.bound()
        self.take("TO")
        high = self.bound()
        closing = self.token
        if closing.kind not in {"]", "}"}:
            raise FilterSyntaxError(f"expected ']' or '}}' at position {closing.position}, found {describe(closing)}")
        self.index += 1
        return Range(field, low, high, include_low, closing.kind == "]")

    def bound(self) -> datetime | None:
        token = self.token
        if token.kind == "STAR":
            self.index += 1
            return None
        if token.kind in {"WORD", "QUOTED"}:
            self.index += 1
            return parse_date(token.text)
        raise FilterSyntaxError(f"expected a date or * at position {token.position}, found {describe(token)}")

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterSyntaxError(f"the filter nests deeper than {MAX_DEPTH} levels")


def parse(text: str) -> Node | None:
    """The AST of a filter query, or None when it is empty. Raises FilterSyntaxError."""
    if not text or not text.strip():
        return None
    parser = _Parser(text)
    node = parser.clauses(None, "EOF")
    parser.take("EOF")
    return node


def _known_field(token: Token) -> str:
    if token.text in VALUE_FIELDS or token.text in DATE_FIELDS:
        return token.text
    supported = ", ".join(sorted(VALUE_FIELDS | DATE_FIELDS))
    raise FilterSyntaxError(f"field '{token.text}' is not supported (supported: {supported})")


def _term(field: str, value: str) -> Term:
    if not value or not value.isprintable():
        raise FilterSyntaxError(f"empty or unprintable value for '{field}'")
    return Term(field, value)


_NOW = re.compile(r"NOW(?:([+-])(\d{1,6})(SECOND|MINUTE|HOUR|DAY|WEEK)S?)?")
_UNITS = {"SECOND": "seconds", "MINUTE": "minutes", "HOUR": "hours", "DAY": "days", "WEEK": "weeks"}


def parse_date(text: str) -> datetime | None:
    """A range bound: ``*``, ``NOW[±nUNIT]`` or an ISO 8601 date or time (UTC unless it says otherwise)."""
    now = _NOW.fullmatch(text)
    if now:
        moment = datetime.now(timezone.utc).replace(tzinfo=None)
        try:
            if now.group(1):
                delta = timedelta(**{_UNITS[now.group(3)]: int(now.group(2))})
                moment = moment + delta if now.group(1) == "+" else moment - delta
        except OverflowError:
            raise FilterSyntaxError(f"'{text}' is out of the range of dates") from None
        return moment
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    except ValueError:
        raise FilterSyntaxError(f"'{text}' is not a date (use 2025-01-01T00:00:00Z, NOW-7DAYS or *)") from None
    except OverflowError:
        raise FilterSyntaxError(f"'{text}' is out of the range of dates") from None
    return moment


def kind_name(kind: str) -> str:
    return {"EOF": "the end", "FIELD": "a field"}.get(kind, f"'{kind}'")


def describe(token: Token) -> str:
    if token.kind == "EOF":
        return "the end of the filter"
    if token.kind == "QUOTED":
        return f'"{token.text}"'
    return f"'{token.text}'"


def facet_filters(node: Node | None, facets: tuple[str, ...]) -> dict[str, list[str]] | None:
    """The filter as the search service's facet filters (OR within a facet, AND across), if it is one.

    None when the filter needs more than that (negation, ranges, OR across fields, other fields).
    """
    if node is None:
        return {}
    parts = node.nodes if isinstance(node, And) else (node,)
    filters: dict[str, list[str]] = {}
    for part in parts:
        terms = part.nodes if isinstance(part, Or) else (part,)
        if not all(isinstance(term, Term) and term.field in facets for term in terms):
            return None
        fields = {term.field for term in terms}
        if len(fields) != 1:
            return None
        field = fields.pop()
        if field in filters:  # the service ORs a facet's values: two ANDed clauses on one facet need more
            return None
        filters[field] = [normalise(term) for term in terms]
    return filters


def normalise(term: Term) -> str:
    """Tags are stored lower-cased (catalog.services); other values compare as given."""
    return term.value.lower() if term.field == "tags" else term.value
