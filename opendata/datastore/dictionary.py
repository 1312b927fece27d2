"""The data dictionary of a table: inferred types, with what the publisher wrote and chose on top.

The dictionary is the resource's Frictionless Table Schema (``Resource.schema``).
A load infers a schema from the file (``types.infer_schema``) and keeps, by column
name, the labels, descriptions and units the publisher wrote. A type the publisher
chose is remembered apart (``Resource.extras["chosen_types"]``), so that it
survives a replaced file and the next load parses the column with it: changing a
type re-validates every row with the same parsers that load them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opendata.catalog.models import Resource

DESCRIBED = ("title", "description", "unit")
# What a type's parser reads besides the type itself: dropped when the type changes.
_TYPE_HINTS = ("format", "decimalChar", "groupChar", "bareNumber", "trueValues", "falseValues")


def parse_hints(field: Mapping[str, Any]) -> dict[str, Any]:
    """What parses a value of this column besides its type (filters accept ``1.886.105`` too)."""
    return {key: field[key] for key in (*_TYPE_HINTS, "unit") if key in field}


def chosen_types(resource: Resource) -> dict[str, str]:
    return dict((resource.extras or {}).get("chosen_types") or {})


def retype(field: Mapping[str, Any], kind: str, inferred: Mapping[str, Any]) -> dict[str, Any]:
    """``field`` with type ``kind``: the hints the parser needs, from inference when it found the same type."""
    if field.get("type") == kind:
        return dict(field)
    typed = {key: value for key, value in field.items() if key not in _TYPE_HINTS}
    typed["type"] = kind
    if inferred.get("type") == kind:
        typed.update({key: inferred[key] for key in _TYPE_HINTS if key in inferred})
    elif kind in ("integer", "number"):
        # The Vietnamese way unless the file showed otherwise: 1.886.105 and 96,4.
        typed.update(decimalChar=",", groupChar=".")
    elif kind in ("date", "datetime"):
        typed["format"] = "any"
    return typed


def effective_schema(inferred: Mapping[str, Any], resource: Resource,
                     types_from: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The schema a load uses: inferred types, or the publisher's where chosen, plus their descriptions.

    ``types_from``: a schema whose types win (those a finished load used), so that only the
    descriptions are taken afresh from the resource.
    """
    described = {field["name"]: field for field in (resource.schema or {}).get("fields", [])}
    chosen = chosen_types(resource)
    used = {field["name"]: field for field in (types_from or {}).get("fields", [])}
    fields = []
    for field in inferred["fields"]:
        name = field["name"]
        merged = dict(used.get(name, field))
        for key in DESCRIBED:
            if described.get(name, {}).get(key):
                merged[key] = described[name][key]
        if name in chosen and name not in used:
            merged = retype(merged, chosen[name], field)
        fields.append(merged)
    return {**inferred, "fields": fields}


def apply_edit(resource: Resource, edited: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge a dictionary edited by the publisher (names, types, descriptions) into the current one.

    Returns the new schema and the chosen types; a changed type loses the old type's hints.
    """
    current = {field["name"]: field for field in (resource.schema or {}).get("fields", [])}
    chosen = chosen_types(resource)
    fields = []
    for field in edited.get("fields", []):
        name, kind = field["name"], field.get("type", "string")
        old = current.get(name, {"name": name, "type": kind})
        merged = {key: value for key, value in old.items() if key not in DESCRIBED}
        merged.update({key: field[key] for key in DESCRIBED if field.get(key)})
        if kind != old.get("type", "string"):
            merged = retype(merged, kind, {})
            chosen[name] = kind
        fields.append(merged)
    schema = {**(resource.schema or {}), **{key: value for key, value in edited.items() if key != "fields"},
              "fields": fields}
    return schema, {name: kind for name, kind in chosen.items() if name in {f["name"] for f in fields}}


def types_changed(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> bool:
    def types(schema):
        return [(field["name"], field.get("type", "string")) for field in (schema or {}).get("fields", [])]
    return types(before) != types(after)
