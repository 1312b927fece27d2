"""REST v1: agencies (CKAN: organizations), their members and their activity stream."""

from __future__ import annotations

from flask import Blueprint, url_for

from opendata import authz
from opendata.accounts import services as accounts
from opendata.accounts.schemas import MembershipSchema
from opendata.activity import queries as activity
from opendata.api.v1.http import authenticated, caller, created, json_body, no_content, operation, paginated, reply
from opendata.api.v1.representations import (
    ActivityPage, AgencyList, AgencyOut, Member, MemberList, NewMember, PageQuery, activity_out, agency_out,
    member_out,
)
from opendata.authz import Action
from opendata.catalog import queries, services
from opendata.catalog.services import load_payload
from opendata.errors import NotFound, ValidationFailed

bp = Blueprint("agencies", __name__)

NAME = {"name": "Tên (đường dẫn) của cơ quan. Agency URL name."}
USER = {"user": "Tên đăng nhập (hoặc id) của thành viên. Member's user name or id."}


@bp.get("/agencies")
@operation("Danh sách cơ quan, kèm số bộ dữ liệu bạn thấy. Agencies with dataset counts", tag="agencies",
           response=AgencyList, errors=(401,), conditional=True)
def agency_list():
    return reply({"items": [agency_out(agency, count) for agency, count in queries.agencies_with_counts(caller())]})


@bp.post("/agencies")
@operation("Tạo cơ quan (quản trị cổng). Create an agency (sysadmins)", tag="agencies", body=AgencyOut,
           response=AgencyOut, status=201, errors=(400, 401, 403, 413, 415, 422), auth="required")
def agency_create():
    data = agency_out(services.create_agency(authenticated(), json_body()))
    return created(data, data["api_url"])


@bp.get("/agencies/<name>")
@operation("Xem một cơ quan. Show an agency", tag="agencies", response=AgencyOut, errors=(401, 404),
           conditional=True, path_params=NAME)
def agency_detail(name: str):
    caller()
    return reply(agency_out(services.get_agency(name)))


@bp.patch("/agencies/<name>")
@operation("Sửa thông tin cơ quan (quản trị viên cơ quan). Update an agency", tag="agencies", body=AgencyOut,
           response=AgencyOut, errors=(400, 401, 403, 404, 413, 415, 422), auth="required", path_params=NAME)
def agency_patch(name: str):
    actor = authenticated()
    agency = services.get_agency(name)
    return reply(agency_out(services.update_agency(actor, agency, json_body())))


@bp.get("/agencies/<name>/members")
@operation("Thành viên của cơ quan (quản trị viên cơ quan). An agency's members", tag="members",
           response=MemberList, errors=(401, 403, 404), conditional=True, auth="required", path_params=NAME)
def member_list(name: str):
    members = accounts.list_members(authenticated(), services.get_agency(name))
    return reply({"items": [member_out(membership) for membership in members]})


@bp.post("/agencies/<name>/members")
@operation("Thêm thành viên hoặc đổi vai trò. Add a member (or change their role)", tag="members",
           body=NewMember, response=Member, status=201, errors=(400, 401, 403, 404, 409, 413, 415, 422),
           auth="required", path_params=NAME)
def member_add(name: str):
    actor = authenticated()
    agency = services.get_agency(name)
    data = load_payload(NewMember(), json_body())
    try:
        user = accounts.get_user(data["user"])
    except NotFound as error:
        raise ValidationFailed(fields={"user": [error.message]}) from error
    membership = accounts.add_member(actor, agency, user, data["role"])
    return created(member_out(membership), _member_url(agency.name, user.name))


def _member_url(agency: str, user: str) -> str:
    return url_for("rest.agencies.member_patch", name=agency, user=user, _external=True)


@bp.patch("/agencies/<name>/members/<user>")
@operation("Đổi vai trò thành viên. Change a member's role", tag="members", body=MembershipSchema,
           response=Member, errors=(400, 401, 403, 404, 409, 413, 415, 422), auth="required",
           path_params={**NAME, **USER})
def member_patch(name: str, user: str):
    actor = authenticated()
    agency = services.get_agency(name)
    data = load_payload(MembershipSchema(), json_body())
    membership = accounts.change_role(actor, agency, accounts.get_user(user), data["role"])
    return reply(member_out(membership))


@bp.delete("/agencies/<name>/members/<user>")
@operation("Đưa thành viên ra khỏi cơ quan. Remove a member", tag="members", status=204,
           errors=(401, 403, 404, 409), auth="required", path_params={**NAME, **USER})
def member_remove(name: str, user: str):
    actor = authenticated()
    accounts.remove_member(actor, services.get_agency(name), accounts.get_user(user))
    return no_content()


@bp.get("/agencies/<name>/activity")
@operation("Hoạt động của cơ quan (thành viên). An agency's activity stream", tag="activity", args=PageQuery,
           response=ActivityPage, errors=(400, 401, 403, 404), paginated=True, conditional=True, auth="required",
           path_params=NAME)
def agency_activity(name: str, args):
    actor = authenticated()
    agency = services.get_agency(name)
    authz.require(actor, Action.AGENCY_READ_ACTIVITY, agency)
    page = activity.agency_stream(agency, args["page"])
    return paginated([activity_out(entry) for entry in page.items], page.total, page.page, page.per_page)
