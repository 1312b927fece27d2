"""REST v1: the shared vocabularies — themes (CKAN: groups), tags and licences."""

from __future__ import annotations

from flask import Blueprint

from opendata.api.v1.http import caller, operation, reply
from opendata.api.v1.representations import LicenceList, TagList, TagQuery, ThemeList, ThemeOut, theme_out
from opendata.catalog import queries, services
from opendata.catalog.metadata import load_vocabularies
from opendata.search import service as search

bp = Blueprint("vocabularies", __name__)


@bp.get("/themes")
@operation("Các lĩnh vực ưu tiên, kèm số bộ dữ liệu. Themes with dataset counts", tag="vocabularies",
           response=ThemeList, errors=(401,), conditional=True)
def theme_list():
    return reply({"items": [theme_out(theme, count) for theme, count in queries.themes_with_counts(caller())]})


@bp.get("/themes/<name>")
@operation("Xem một lĩnh vực. Show a theme", tag="vocabularies", response=ThemeOut, errors=(401, 404),
           conditional=True, path_params={"name": "Tên (đường dẫn) của lĩnh vực. Theme name."})
def theme_detail(name: str):
    theme = services.get_theme(name)
    counts = dict(queries.themes_with_counts(caller()))
    return reply(theme_out(theme, counts.get(theme, 0)))


@bp.get("/tags")
@operation("Từ khóa của các bộ dữ liệu bạn thấy, nhiều nhất trước. Tags, most used first", tag="vocabularies",
           args=TagQuery, response=TagList, errors=(400, 401), conditional=True)
def tag_list(args):
    # The search facets already count tags over what the caller may see.
    result = search.search_datasets(caller(), per_page=1, facet_limit=args["limit"], include_private=True)
    return reply({"items": [{"name": value.value, "count": value.count} for value in result.facets.get("tags", [])]})


@bp.get("/licenses")
@operation("Các giấy phép. Licences", tag="vocabularies", response=LicenceList, errors=(401,), conditional=True)
def licence_list():
    caller()
    return reply({"items": [{"id": item["id"], "title": item["title"], "url": item.get("url"),
                             "is_open": item["is_open"]} for item in load_vocabularies()["licenses"]]})
