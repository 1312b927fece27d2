"""Account pages: login, invitations, password reset, the user's own page with API
tokens, an agency's members, and the sysadmins' list of users.

Views parse the form, call a service and render; a service error on a form
shows the form again with the messages (422 for bad input, 409 for a conflict).
"""

from __future__ import annotations


from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from opendata.accounts import services
from opendata.accounts.models import User
from opendata.accounts.services import ROLE_LABELS, InvalidCredentials, LinkInvalid
from opendata.accounts.throttle import Throttled
from opendata.catalog import queries
from opendata.catalog import services as catalog
from opendata.catalog.models import utcnow
from opendata.errors import AppError, Conflict, NotFound, ValidationFailed
from opendata.extensions import login_manager
from opendata.mail import MailFailed
from opendata.web import safe_next

bp = Blueprint("accounts", __name__)
# What a form error shows the form again for; other errors (403, 404) get the error page.
FORM_ERRORS = (ValidationFailed, Conflict, MailFailed)


@bp.record_once
def _configure_login(_state) -> None:
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Vui lòng đăng nhập để xem trang này."
    login_manager.login_message_category = "info"


@bp.after_request
def _private(response):
    # Account pages show secrets (a new token) and carry them in links (invitations,
    # resets): keep them out of caches and out of the Referer sent to other sites.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.app_context_processor
def _labels() -> dict:
    return {"role_labels": ROLE_LABELS}


def _actor() -> User:
    return current_user._get_current_object()


def _fields(*names: str) -> dict[str, str]:
    """The named fields of the posted form (never the CSRF token or the buttons)."""
    return {name: request.form.get(name, "") for name in names}


def _invited(email: str, secret: str, agency_title: str | None = None) -> str:
    """What the inviter is told; without a mail server nothing was sent, so they get the link to pass on."""
    where = f" vào {agency_title}" if agency_title else ""
    if current_app.config["MAIL_SERVER"]:
        return f"Đã gửi lời mời đến {email.strip()}{where}."
    return (f"Đã tạo lời mời cho {email.strip()}{where}, nhưng cổng chưa cấu hình máy chủ thư nên thư chưa được "
            f"gửi. Hãy chuyển liên kết này cho người được mời: {services.invitation_link(secret)}")


def _link_invalid(error: AppError):
    return render_template("accounts/link_invalid.html", message=error.message, status=error.status), error.status


# --- login and logout ----------------------------------------------------------------------

@bp.route("/user/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(next_url or url_for(".account"))
        return render_template("accounts/login.html", next_url=next_url, form={}, errors={})
    form = _fields("login", "password")
    try:
        user = services.authenticate(form["login"], form["password"], request.remote_addr or "")
    except (ValidationFailed, InvalidCredentials, Throttled) as error:
        response = make_response(render_template(
            "accounts/login.html", next_url=next_url, form={"login": form["login"]}, errors=error.fields,
            message=error.message), error.status)
        if isinstance(error, Throttled):
            response.headers["Retry-After"] = str(error.wait_seconds)
        return response
    session.clear()  # nothing planted in the session before login survives it (fixation)
    login_user(user, remember=request.form.get("remember") == "on")
    return redirect(next_url or url_for(".account"))


@bp.post("/user/logout")
def logout():
    session.clear()
    logout_user()  # after clear(): it marks the remember-me cookie for deletion in the session
    return redirect(url_for("catalog.home"))


# --- invitations ---------------------------------------------------------------------------

@bp.route("/user/invite/<token>", methods=["GET", "POST"])
def invitation(token: str):
    try:
        invitation = services.get_invitation(token)
    except (NotFound, LinkInvalid) as error:
        return _link_invalid(error)
    signed_in = current_user.is_authenticated
    form = _fields("name", "fullname", "password", "password_confirm")
    status, errors, message = 200, {}, None
    if request.method == "POST":
        try:
            user = services.accept_invitation(token, form, user=_actor() if signed_in else None)
        except (NotFound, LinkInvalid) as error:
            return _link_invalid(error)
        except FORM_ERRORS as error:
            status, errors, message = error.status, error.fields, error.message
        else:
            if not signed_in:
                session.clear()
                login_user(user)
            flash(f"Bạn đã tham gia {invitation.agency.title}.", "success")
            return redirect(url_for(".account"))
    return render_template("accounts/invitation.html", invitation=invitation, token=token, errors=errors,
                           message=message, form={k: v for k, v in form.items() if "password" not in k},
                           has_account=not signed_in and services.invited_address_has_account(invitation)), status


# --- password reset ------------------------------------------------------------------------

@bp.route("/user/reset", methods=["GET", "POST"])
def reset_request():
    if request.method == "POST":
        services.request_password_reset(request.form.get("email", ""))
        return render_template("accounts/reset_request.html", sent=True)
    return render_template("accounts/reset_request.html", sent=False)


@bp.route("/user/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        user = services.user_for_reset(token)
        if request.method == "POST":
            form = _fields("password", "password_confirm")
            services.reset_password(token, form["password"], confirm=form["password_confirm"])
            flash("Mật khẩu đã được đổi. Hãy đăng nhập bằng mật khẩu mới.", "success")
            return redirect(url_for(".login"))
    except LinkInvalid as error:
        return _link_invalid(error)
    except ValidationFailed as error:
        return render_template("accounts/reset_password.html", user=user, errors=error.fields), error.status
    return render_template("accounts/reset_password.html", user=user, errors={})


# --- the user's own page and API tokens ----------------------------------------------------

def _account_page(status: int = 200, **context):
    actor = _actor()
    memberships = sorted(actor.memberships, key=lambda m: m.agency.title)
    context.setdefault("errors", {})
    context.setdefault("form", {})
    return render_template("accounts/account.html", user=actor, memberships=memberships,
                           tokens=services.list_tokens(actor), now=utcnow(), **context), status


@bp.get("/user/account")
@login_required
def account():
    return _account_page()


@bp.post("/user/account/tokens")
@login_required
def token_create():
    form = _fields("name", "expires_on")
    try:
        token, secret = services.issue_token(_actor(), _actor(), form)
    except ValidationFailed as error:
        return _account_page(error.status, errors=error.fields, form=form)
    # Rendered, not redirected: the secret is never stored, not even in the session cookie.
    return _account_page(201, new_token=token, secret=secret)


@bp.post("/user/account/tokens/<token_id>/revoke")
@login_required
def token_revoke(token_id: str):
    token = services.revoke_token(_actor(), services.get_token(_actor(), token_id))
    flash(f"Đã thu hồi khóa API “{token.name}”.", "success")
    return redirect(url_for(".account"))


# --- an agency's members -------------------------------------------------------------------

def _members_page(agency, status: int = 200, **context):
    actor = _actor()
    context.setdefault("errors", {})
    context.setdefault("form", {})
    return render_template("accounts/members.html", agency=agency, members=services.list_members(actor, agency),
                           invitations=services.pending_invitations(actor, agency), **context), status


@bp.get("/organization/<name>/members")
@login_required
def members(name: str):
    return _members_page(catalog.get_agency(name))


@bp.post("/organization/<name>/members/invite")
@login_required
def member_invite(name: str):
    agency = catalog.get_agency(name)
    form = _fields("email", "role")
    try:
        _, secret = services.invite(_actor(), agency, form["email"], form["role"])
    except FORM_ERRORS as error:
        return _members_page(agency, error.status, errors=error.fields, message=error.message, form=form)
    flash(_invited(form["email"], secret), "success")
    return redirect(url_for(".members", name=agency.name))


@bp.post("/organization/<name>/members/<user_name>/role")
@login_required
def member_role(name: str, user_name: str):
    agency = catalog.get_agency(name)
    user = services.get_user(user_name)
    try:
        membership = services.change_role(_actor(), agency, user, request.form.get("role", ""))
    except FORM_ERRORS as error:
        return _members_page(agency, error.status, message=error.message)
    flash(f"{user.display_name} giờ là {ROLE_LABELS[membership.role].lower()}.", "success")
    return redirect(url_for(".members", name=agency.name))


@bp.post("/organization/<name>/members/<user_name>/remove")
@login_required
def member_remove(name: str, user_name: str):
    agency = catalog.get_agency(name)
    user = services.get_user(user_name)
    try:
        services.remove_member(_actor(), agency, user)
    except FORM_ERRORS as error:
        return _members_page(agency, error.status, message=error.message)
    flash(f"Đã xóa {user.display_name} khỏi cơ quan.", "success")
    if user.id == _actor().id:  # removed oneself: the members page is no longer theirs to see
        return redirect(url_for(".account"))
    return redirect(url_for(".members", name=agency.name))


@bp.post("/organization/<name>/invitations/<invitation_id>/revoke")
@login_required
def invitation_revoke(name: str, invitation_id: str):
    agency = catalog.get_agency(name)
    invitation = services.get_agency_invitation(agency, invitation_id)
    try:
        services.revoke_invitation(_actor(), invitation)
    except FORM_ERRORS as error:
        return _members_page(agency, error.status, message=error.message)
    flash(f"Đã thu hồi lời mời gửi {invitation.email}.", "success")
    return redirect(url_for(".members", name=agency.name))


# --- every user (sysadmins) ----------------------------------------------------------------

def _users_page(status: int = 200, **context):
    users = services.list_users(_actor())  # authorizes first
    agencies = sorted((agency for agency, _ in queries.agencies_with_counts(_actor())), key=lambda a: a.title)
    context.setdefault("errors", {})
    context.setdefault("form", {})
    return render_template("accounts/user_list.html", users=users, agencies=agencies, **context), status


@bp.get("/user/")
@login_required
def user_list():
    return _users_page()


@bp.post("/user/<name>/active")
@login_required
def user_active(name: str):
    user = services.get_user(name)
    active = request.form.get("active") == "1"
    try:
        services.set_user_active(_actor(), user, active)
    except FORM_ERRORS as error:
        return _users_page(error.status, message=error.message)
    flash(f"Đã {'mở khóa' if active else 'khóa'} tài khoản {user.name}.", "success")
    return redirect(url_for(".user_list"))


@bp.post("/user/invite")
@login_required
def user_invite():
    form = _fields("email", "agency", "role")
    try:
        agency = catalog.get_agency(form["agency"])
    except NotFound:
        return _users_page(422, errors={"agency": ["Hãy chọn một cơ quan."]}, form=form)
    try:
        _, secret = services.invite(_actor(), agency, form["email"], form["role"])
    except FORM_ERRORS as error:
        return _users_page(error.status, errors=error.fields, message=error.message, form=form)
    flash(_invited(form["email"], secret, agency.title), "success")
    return redirect(url_for(".user_list"))
