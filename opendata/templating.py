"""Jinja filters and globals: Vietnamese number, size and date formats, Markdown, URLs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from opendata import authz
from opendata.clock import local_time
from opendata.catalog.metadata import load_metadata_schema, load_vocabularies, vocabulary_label
from opendata.catalog.schemas import TABLE_TYPE_LABELS
from opendata.markup import render_markdown


def format_number(value: int | float | None) -> str:
    """Vietnamese grouping: 1886105 -> `1.886.105`, 96.4 -> `96,4`."""
    if value is None:
        return ""
    if isinstance(value, float) and not value.is_integer():
        whole, _, frac = f"{value:,.2f}".rstrip("0").partition(".")
        return whole.replace(",", ".") + ("," + frac if frac else "")
    return f"{int(value):,}".replace(",", ".")


def format_size(size: int | None) -> str:
    """A byte count for people: `1,5 MB`."""
    if size is None:
        return ""
    units = ["byte", "KB", "MB", "GB", "TB"]
    value, unit = float(size), 0
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    if unit == 0:
        return f"{int(value)} byte"
    return f"{value:.1f}".replace(".", ",") + f" {units[unit]}"


def format_date(value: date | datetime | str | None, with_time: bool = False) -> str:
    """`04/12/2026`, or `05/12/2026 06:30` with the time; stored times are UTC, shown in Vietnam's (UTC+7)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = local_time(value)
    if with_time and isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def url_with(endpoint: str | None = None, **changes: Any) -> str:
    """The current URL with some query parameters replaced (None removes one).

    Lists keep their other filters, so pagination and facet links carry the whole state.
    """
    args = MultiDict(request.args)
    for key, value in changes.items():
        args.poplist(key)
        if value is None:
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            args.add(key, item)
    if "page" not in changes:
        args.poplist("page")
    view_args = dict(request.view_args or {}) if endpoint is None else {}
    return url_for(endpoint or request.endpoint, **view_args, **args.to_dict(flat=False))


def toggle_filter(key: str, value: str) -> str:
    """Add a facet value to the current filters, or remove it if it is active."""
    current = request.args.getlist(key)
    values = [item for item in current if item != value] if value in current else current + [value]
    return url_with(**{key: values or None})


def template_can(action: str, target: Any = None) -> bool:
    """``authz.can`` for the signed-in user, so pages show only the buttons that would work."""
    user = current_user._get_current_object() if current_user.is_authenticated else None
    return authz.can(user, authz.Action(action), target)


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters.update(
        markdown=render_markdown, number=format_number, filesize=format_size, vndate=format_date,
    )
    app.jinja_env.globals.update(
        url_with=url_with, toggle_filter=toggle_filter, vocabulary_label=vocabulary_label,
        metadata_schema=load_metadata_schema,
    )
    app.jinja_env.globals["vocabularies"] = load_vocabularies
    app.jinja_env.filters["tabletype"] = lambda name: TABLE_TYPE_LABELS.get(name or "string", name)
    app.jinja_env.globals["can"] = template_can
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def site() -> dict[str, Any]:
        return {"site_title": app.config["SITE_TITLE"]}
