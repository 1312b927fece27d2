"""Field-level differences between the before and after of an activity, for people.

``field_diff`` compares two metadata dicts (a dataset's or a resource's, as the
services record them) field by field, in the order of the metadata schema, with
each field's Vietnamese label. Lists (tags, themes, languages...) come out as the
items added and removed; long text (a Markdown description) as a line diff; values
from a vocabulary (licence, themes, update frequency...) as their labels.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from opendata.catalog.metadata import FieldSpec, load_metadata_schema, load_vocabularies, vocabulary_label
from opendata.catalog.workflow import STATE_LABELS

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
# Bookkeeping that every save changes or that people do not edit: never shown as a change.
IGNORED = frozenset({
    "id", "created_at", "updated_at", "published_at", "download_count", "position", "dataset", "dataset_id",
    "metadata_modified", "document",
})
# Recorded keys that the metadata schema does not declare.
EXTRA_LABELS = {
    "state": "Trạng thái",
    "filename": "Tên tệp",
    "encoding": "Bảng mã",
    "role": "Vai trò",
}
LIST_TYPES = frozenset({"themes", "tags", "list", "multichoice"})
CONTEXT_LINES = 2


@dataclass(frozen=True)
class Line:
    """One line of a text diff: ``op`` is "same", "added", "removed" or "gap" (unchanged lines left out)."""

    op: str
    text: str


@dataclass(frozen=True)
class Change:
    """How one field changed. ``old``/``new`` are None when the field was added/removed."""

    field: str
    label: str
    kind: str  # ADDED, REMOVED or CHANGED
    type: str = "text"  # the field's type in the metadata schema ("date", "integer"...)
    old: Any = None
    new: Any = None
    items_added: tuple[str, ...] = ()  # list fields: the items that appeared...
    items_removed: tuple[str, ...] = ()  # ...and those that went
    lines: tuple[Line, ...] = ()  # long text: the line diff

    @property
    def is_list(self) -> bool:
        return self.type in LIST_TYPES

    @property
    def is_text_diff(self) -> bool:
        return bool(self.lines)


def _specs(object_type: str) -> dict[str, FieldSpec]:
    schema = load_metadata_schema()
    fields = schema.resource_fields if object_type == "resource" else schema.dataset_fields
    return {spec.field_name: spec for spec in fields}


def _titles(vocabulary: str, key: str) -> dict[str, str]:
    return {item[key]: item["title"] for item in load_vocabularies().get(vocabulary, [])}


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _display(spec: FieldSpec | None, field: str, value: Any) -> Any:
    """A recorded value as people read it: vocabulary labels instead of codes."""
    if _empty(value):
        return None
    kind = spec.type if spec else None
    if field == "state":
        return STATE_LABELS.get(value, value)
    if kind == "license":
        return _titles("licenses", "id").get(value, value)
    if kind == "themes":
        titles = _titles("themes", "name")
        return [titles.get(item, item) for item in value]
    if kind == "choice":
        return vocabulary_label(spec.vocabulary, value)
    if kind == "multichoice":
        return [vocabulary_label(spec.vocabulary, item) for item in value]
    if kind == "json" and isinstance(value, dict) and isinstance(value.get("fields"), list):
        # A Table Schema: compare its columns, which is what people edit.
        return [f"{column.get('name')} ({column.get('type', 'any')})" for column in value["fields"]]
    if isinstance(value, (dict, list)) and kind not in LIST_TYPES:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def _is_long(spec: FieldSpec | None, old: Any, new: Any) -> bool:
    if not isinstance(old, str) or not isinstance(new, str):
        return False
    return (spec is not None and spec.type == "markdown") or "\n" in old or "\n" in new


def line_diff(old: str, new: str, context: int = CONTEXT_LINES) -> tuple[Line, ...]:
    """The lines of ``new`` against ``old``; runs of unchanged lines beyond ``context`` become a gap."""
    a, b = old.splitlines(), new.splitlines()
    lines: list[Line] = []
    opcodes = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            same = a[i1:i2]
            head = context if index > 0 else 0
            tail = context if index < len(opcodes) - 1 else 0
            if len(same) > head + tail:
                lines += [Line("same", text) for text in same[:head]]
                lines.append(Line("gap", f"… {len(same) - head - tail} dòng không đổi …"))
                lines += [Line("same", text) for text in same[len(same) - tail:] if tail]
            else:
                lines += [Line("same", text) for text in same]
            continue
        lines += [Line("removed", text) for text in a[i1:i2]]
        lines += [Line("added", text) for text in b[j1:j2]]
    return tuple(lines)


def _change(field: str, spec: FieldSpec | None, old: Any, new: Any) -> Change | None:
    label = spec.label_vi if spec else EXTRA_LABELS.get(field, field)
    kind_of_field = spec.type if spec else ("list" if isinstance(old or new, list) else "text")
    old, new = _display(spec, field, old), _display(spec, field, new)
    if old == new:
        return None
    kind = ADDED if old is None else REMOVED if new is None else CHANGED
    if isinstance(old or new, list):
        before, after = list(old or []), list(new or [])
        return Change(field, label, kind, "list" if kind_of_field not in LIST_TYPES else kind_of_field,
                      old=before or None, new=after or None,
                      items_added=tuple(str(item) for item in after if item not in before),
                      items_removed=tuple(str(item) for item in before if item not in after))
    lines = line_diff(old, new) if kind == CHANGED and _is_long(spec, old, new) else ()
    return Change(field, label, kind, kind_of_field, old=old, new=new, lines=lines)


def field_diff(before: dict | None, after: dict | None, object_type: str = "dataset") -> list[Change]:
    """The fields that differ between ``before`` and ``after`` (either may be None), schema order first.

    ``object_type`` picks the labels: "dataset" or "resource".
    """
    before, after = before or {}, after or {}
    specs = _specs(object_type)
    keys = [name for name in specs if name in before or name in after]
    keys += sorted((set(before) | set(after)) - set(specs))
    changes = []
    for field in keys:
        if field in IGNORED:
            continue
        change = _change(field, specs.get(field), before.get(field), after.get(field))
        if change is not None:
            changes.append(change)
    return changes
