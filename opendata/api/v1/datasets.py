"""REST v1: datasets — search, read, create, replace, patch, delete, the review workflow and history."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint

from opendata.activity import queries as activity
from opendata.api.v1.http import (
    created, json_body, no_content, operation, paginated, caller, reply, authenticated,
)
from opendata.api.v1.representations import (
    ActivityPage, DatasetQuery, PageQuery, TransitionBody, activity_out, dataset_out, dataset_page_schema,
    dataset_schema,
)
from opendata.catalog import services, workflow
from opendata.catalog.services import load_payload
from opendata.search import service as search
from opendata.search.base import FACETS

bp = Blueprint("datasets", __name__)

NAME = {"name": "Tên (đường dẫn) hoặc id của bộ dữ liệu. Dataset name or id."}
TRANSITIONS = ("submit", "approve", "reject", "publish", "withdraw", "restore", "delete", "purge")
TRANSITION_HELP = """\
Bước của quy trình duyệt / a step of the review workflow:

- `submit`: bản nháp → chờ duyệt (biên tập viên; cần phân loại «Dữ liệu mở»).
- `approve`: chờ duyệt → đã công bố (quản trị viên cơ quan; qua kiểm tra dữ liệu cá nhân).
- `reject`: chờ duyệt → bản nháp, kèm `comment` (≥ 10 ký tự).
- `publish`: công bố không qua duyệt (quản trị viên, hoặc biên tập viên nếu cơ quan cho phép).
- `withdraw`: ngừng công bố (có thể kèm `comment`).
- `restore`: lấy lại từ thùng rác, hoặc công bố lại bộ dữ liệu đã ngừng công bố.
- `delete`: chuyển vào thùng rác (xóa mềm). `purge`: xóa vĩnh viễn (quản trị cổng).

409 khi trạng thái không cho phép hoặc khi còn phát hiện dữ liệu cá nhân chưa xử lý;
`error.message` nói lý do, `error.fields.blockers` liệt kê từng vướng mắc.
"""


@bp.get("/datasets")
@operation("Tìm kiếm và liệt kê bộ dữ liệu. Search and list datasets", tag="datasets", args=DatasetQuery,
           response=dataset_page_schema, errors=(400, 401), paginated=True, conditional=True,
           description="Cùng tham số với trang /dataset: `q`, các bộ lọc (lặp lại được), `sort`, `page`, "
                       "`per_page` (tối đa 1000). Same parameters as the search page.")
def dataset_list(args):
    filters = {name: args[name] for name in FACETS if args.get(name)}
    result = search.search_datasets(
        caller(), q=args["q"], filters=filters, sort=args["sort"], page=args["page"], per_page=args["per_page"],
        include_private=args["include_private"], facet_limit=args["facet_limit"])
    facets = {name: [asdict(value) for value in values] for name, values in result.facets.items()}
    return paginated([dataset_out(dataset) for dataset in result.items], result.total, result.page,
                     result.per_page, facets=facets, suggestion=result.suggestion)


@bp.post("/datasets")
@operation("Tạo bộ dữ liệu (bản nháp). Create a draft dataset", tag="datasets", body=dataset_schema,
           response=dataset_schema, status=201, errors=(400, 401, 403, 413, 415, 422), auth="required")
def dataset_create():
    actor = authenticated()
    data = dataset_out(services.create_dataset(actor, json_body()))
    return created(data, data["api_url"])


@bp.get("/datasets/<name>")
@operation("Xem một bộ dữ liệu. Show a dataset", tag="datasets", response=dataset_schema, errors=(401, 404),
           conditional=True, path_params=NAME)
def dataset_detail(name: str):
    return reply(dataset_out(services.get_dataset(caller(), name)))


@bp.put("/datasets/<name>")
@operation("Thay toàn bộ siêu dữ liệu. Replace a dataset's metadata", tag="datasets", body=dataset_schema,
           response=dataset_schema, errors=(400, 401, 403, 404, 413, 415, 422), auth="required",
           path_params=NAME, description="Trường tùy chọn không gửi sẽ bị xóa. Optional fields left out are cleared.")
def dataset_replace(name: str):
    actor = authenticated()
    dataset = services.get_dataset(actor, name)
    return reply(dataset_out(services.update_dataset(actor, dataset, json_body(), partial=False)))


@bp.patch("/datasets/<name>")
@operation("Sửa một số trường. Update some fields", tag="datasets", body=dataset_schema, response=dataset_schema,
           errors=(400, 401, 403, 404, 413, 415, 422), auth="required", path_params=NAME)
def dataset_patch(name: str):
    actor = authenticated()
    dataset = services.get_dataset(actor, name)
    return reply(dataset_out(services.update_dataset(actor, dataset, json_body(), partial=True)))


@bp.delete("/datasets/<name>")
@operation("Chuyển vào thùng rác (xóa mềm). Move to the trash (soft delete)", tag="datasets",
           errors=(401, 403, 404, 409), auth="required", path_params=NAME, status=204)
def dataset_delete(name: str):
    actor = authenticated()
    workflow.delete(actor, services.get_dataset(actor, name))
    return no_content()


@bp.post(f"/datasets/<name>/<any({', '.join(TRANSITIONS)}):transition>")
@operation("Chuyển trạng thái trong quy trình duyệt. Take a workflow step", tag="workflow",
           body=TransitionBody, response=dataset_schema, errors=(400, 401, 403, 404, 409, 413, 415, 422),
           auth="required", description=TRANSITION_HELP, more={204: "Đã xóa vĩnh viễn (purge). Purged."},
           path_params={**NAME, "transition": {"enum": list(TRANSITIONS), "description": "Bước / step."}})
def dataset_transition(name: str, transition: str):
    actor = authenticated()
    dataset = services.get_dataset(actor, name)
    comment = load_payload(TransitionBody(), json_body(optional=True)).get("comment") or ""
    if transition == "purge":
        workflow.purge(actor, dataset)
        return no_content()
    if transition == "reject":
        workflow.reject(actor, dataset, comment)
    elif transition == "withdraw":
        workflow.withdraw(actor, dataset, comment)
    else:
        getattr(workflow, transition)(actor, dataset)
    return reply(dataset_out(dataset))


@bp.get("/datasets/<name>/activity")
@operation("Lịch sử thay đổi của bộ dữ liệu. A dataset's history", tag="activity", args=PageQuery,
           response=ActivityPage, errors=(400, 401, 404), paginated=True, conditional=True, path_params=NAME)
def dataset_activity(name: str, args):
    dataset = services.get_dataset(caller(), name)
    page = activity.dataset_history(dataset, args["page"])
    return paginated([activity_out(entry) for entry in page.items], page.total, page.page, page.per_page)
