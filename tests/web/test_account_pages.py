"""Account pages through the test client: invitations, login, logout, reset, tokens, members, users."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import func, select

from opendata import mail
from opendata.accounts import services as accounts
from opendata.accounts.models import ApiToken, Invitation, LoginAttempt, User
from opendata.catalog.models import utcnow
from opendata.extensions import db
from tests.conftest import RequestScopedClient, make_test_app
from tests.factories import make_agency, make_user
from tests.forms import csrf_from, sign_in, submit

PASSWORD = "mat-khau-du-dai"  # tests.factories.UserPayload


class FreshClient(RequestScopedClient):
    """Also forgets the CSRF token that Flask-WTF caches in ``g``.

    The tests share one app context, so without this a client would post the token
    of another client's session, or of its own session before login cleared it.
    """

    def open(self, *args, **kwargs):
        g.pop("csrf_token", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    return _client(app)


def _client(app):
    app.test_client_class = FreshClient
    return app.test_client()


@pytest.fixture
def outbox(monkeypatch):
    sent: list[dict] = []
    monkeypatch.setattr(mail, "send", lambda to, subject, body: sent.append({"to": to, "body": body}))
    return sent


@pytest.fixture
def agencies(system):
    return (make_agency(system, name="so-a", title="Sở A"), make_agency(system, name="so-b", title="Sở B"))


@pytest.fixture
def admin(system, agencies):
    return make_user(system, agencies[0], "admin", name="admin-a", email="admin@a.gov.vn")


def _html(response) -> str:
    return response.get_data(as_text=True)


def _link_path(message: dict) -> str:
    return re.search(r"http://[^/\s]+(/user/\S+)", message["body"]).group(1)


def _login(client, login: str, password: str = PASSWORD, **data):
    return submit(client, "/user/login", data={"login": login, "password": password, **data})


def _signed_in_as(client) -> str | None:
    """The name shown in the header's account corner, or None when anonymous."""
    match = re.search(r'class="user-nav-name"[^>]*>.*?</span>([^<]+)</a>', _html(client.get("/")), re.S)
    return match.group(1).strip() if match else None


# --- invitations ---------------------------------------------------------------------------

def test_invitation_journey_ends_logged_in_with_the_membership(app, admin, agencies, outbox):
    admin_client = _client(app)
    sign_in(admin_client, admin)
    response = submit(admin_client, "/organization/so-a/members", "/organization/so-a/members/invite",
                      {"email": "Can.Bo@example.org", "role": "editor"})
    assert response.status_code == 302
    assert "can.bo@example.org" in _html(admin_client.get("/organization/so-a/members"))  # pending

    newcomer = _client(app)
    invite_path = _link_path(outbox[0])
    page = newcomer.get(invite_path)
    assert page.status_code == 200 and "Sở A" in _html(page) and page.headers["Referrer-Policy"] == "no-referrer"
    response = submit(newcomer, invite_path, data={"name": "can-bo", "fullname": "Cán Bộ",
                                                   "password": "mot-mat-khau-dai", "password_confirm": "mot-mat-khau-dai"})
    assert response.status_code == 302 and response.location.endswith("/user/account")
    account = _html(newcomer.get("/user/account"))
    assert "Bạn đã tham gia Sở A." in account and "Biên tập viên" in account
    assert _signed_in_as(newcomer) == "Cán Bộ"
    user = db.session.scalar(select(User).where(User.name == "can-bo"))
    assert [(m.agency.name, m.role) for m in user.memberships] == [("so-a", "editor")]
    assert newcomer.get(invite_path).status_code == 410  # used


def test_a_logged_in_user_accepts_with_one_button(app, system, admin, agencies, outbox):
    user = make_user(system, agencies[1], "editor", email="khac@example.org")
    accounts.invite(admin, agencies[0], "khac@example.org", "member")
    client = _client(app)
    sign_in(client, user)
    path = _link_path(outbox[0])
    assert "Nhận lời mời" in _html(client.get(path))
    assert submit(client, path).status_code == 302
    assert {m.agency.name for m in user.memberships} == {"so-a", "so-b"}


def test_an_invited_address_with_an_account_is_asked_to_log_in(app, system, admin, agencies, client, outbox):
    make_user(system, email="co-roi@example.org")
    accounts.invite(admin, agencies[0], "co-roi@example.org", "member")
    html = _html(client.get(_link_path(outbox[0])))
    assert "đã có tài khoản" in html and "/user/login?next=/user/invite/" in html


@pytest.mark.parametrize("state, message", [("expired", "đã hết hạn"), ("accepted", "đã được sử dụng"),
                                            ("revoked", "đã bị thu hồi")])
def test_dead_invitation_links_explain_why(client, admin, agencies, outbox, state, message):
    invitation, secret = accounts.invite(admin, agencies[0], "x@example.org", "member")
    if state == "expired":
        invitation.expires_at = utcnow() - timedelta(minutes=1)
    elif state == "accepted":
        invitation.accepted_at = utcnow()
    else:
        invitation.revoked_at = utcnow()
    db.session.commit()
    response = client.get(f"/user/invite/{secret}")
    assert response.status_code == 410 and message in _html(response)
    token = csrf_from(_html(client.get("/user/login")))
    assert client.post(f"/user/invite/{secret}", data={"csrf_token": token, "name": "x-y",
                                                        "password": "mat-khau-dai-du", "password_confirm": "mat-khau-dai-du"}
                       ).status_code == 410
    assert db.session.scalar(select(func.count()).select_from(User).where(User.name == "x-y")) == 0
    assert client.get("/user/invite/khong-ton-tai").status_code == 404


def test_bad_registration_shows_the_form_again_with_422(client, admin, agencies, outbox):
    accounts.invite(admin, agencies[0], "x@example.org", "member")
    path = _link_path(outbox[0])
    response = submit(client, path, data={"name": "Tên Có Dấu", "password": "ngan", "password_confirm": "khac"})
    html = _html(response)
    assert response.status_code == 422
    assert "Chỉ gồm chữ thường không dấu" in html and "Mật khẩu cần từ 10" in html
    assert 'value="Tên Có Dấu"' in html and 'value="ngan"' not in html  # passwords are never echoed
    assert db.session.scalar(select(Invitation)).accepted_at is None


# --- login and logout ----------------------------------------------------------------------

def test_login_redirects_and_logout_needs_a_post(client, admin):
    assert _signed_in_as(client) is None and "Đăng nhập" in _html(client.get("/"))
    response = _login(client, "ADMIN@a.gov.vn")
    assert response.status_code == 302 and response.location.endswith("/user/account")
    assert _signed_in_as(client) == admin.display_name
    assert client.get("/user/logout").status_code == 405
    assert _signed_in_as(client) == admin.display_name
    assert submit(client, "/user/account", "/user/logout").status_code == 302
    assert _signed_in_as(client) is None
    assert client.get("/user/account").status_code == 302


def test_a_wrong_password_shows_one_generic_message(client, admin):
    for login in ("admin-a", "khong-co-ai"):
        response = _login(client, login, "sai-mat-khau")
        assert response.status_code == 401
        assert "Tên đăng nhập hoặc mật khẩu không đúng." in _html(response)
    assert _signed_in_as(client) is None
    response = _login(client, "", "")
    assert response.status_code == 422 and _html(response).count("Trường này là bắt buộc.") == 2


@pytest.mark.parametrize("target, expected", [
    ("/dataset?q=ao", "/dataset?q=ao"),
    ("https://evil.example/", "/user/account"),
    ("//evil.example/path", "/user/account"),
    ("/\\evil.example", "/user/account"),
    ("javascript:alert(1)", "/user/account"),
])
def test_next_only_leads_to_a_local_path(client, admin, target, expected):
    response = _login(client, "admin-a", next=target)
    assert response.status_code == 302 and response.location == expected


def test_login_required_pages_send_to_login_and_back(client, admin):
    response = client.get("/user/account")
    assert response.status_code == 302 and response.location.startswith("/user/login?next=%2Fuser%2Faccount")
    page = client.get(response.location)
    assert "Vui lòng đăng nhập để xem trang này." in _html(page)
    assert 'name="next" value="/user/account"' in _html(page)


def test_login_starts_a_new_session(client, admin):
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
    _login(client, "admin-a", remember="on")
    with client.session_transaction() as session:
        assert "planted" not in session and session["_user_id"] == admin.id
    assert client.get_cookie("remember_token") is not None


def test_throttling_refuses_the_right_password_with_429(app, client, admin):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert _login(client, "admin-a", "sai-mat-khau").status_code == 401
    response = _login(client, "admin-a")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert "Vui lòng thử lại sau 15 phút." in _html(response)
    assert _signed_in_as(client) is None
    for attempt in db.session.scalars(select(LoginAttempt)):
        attempt.created_at -= timedelta(seconds=app.config["LOGIN_WINDOW"])
    db.session.commit()
    assert _login(client, "admin-a").status_code == 302


def test_throttling_per_address(app, admin):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 2
    attacker = _client(app)
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for name in ("mot", "hai"):
        assert _login(attacker, name, "sai").status_code == 401
    assert _login(attacker, "admin-a").status_code == 429
    assert _login(_client(app), "admin-a").status_code == 302  # another address still logs in


# --- CSRF and cookies ----------------------------------------------------------------------

def test_a_post_without_csrf_token_is_refused_and_changes_nothing(client, admin, agencies, outbox):
    sign_in(client, admin)
    response = client.post("/organization/so-a/members/invite", data={"email": "x@example.org", "role": "admin"})
    assert response.status_code == 400 and "CSRF" in _html(response)
    assert client.post("/user/logout").status_code == 400
    assert _signed_in_as(client) == admin.display_name
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0 and outbox == []


def _cookie_headers(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_session_cookies_are_httponly_and_lax(client, admin):
    cookies = _cookie_headers(_login(client, "admin-a", remember="on"))
    for name in ("session", "remember_token"):
        assert "HttpOnly" in cookies[name] and "SameSite=Lax" in cookies[name] and "Secure" not in cookies[name]


@pytest.fixture
def production_app(database_url, tmp_path):
    yield from make_test_app(database_url, tmp_path, PRODUCTION=True)


def test_cookies_are_secure_in_production(production_app):
    system = accounts.system_actor()
    make_user(system, name="prod-user")
    client = _client(production_app)
    cookies = _cookie_headers(_login(client, "prod-user", remember="on"))
    for name in ("session", "remember_token"):
        assert "Secure" in cookies[name] and "HttpOnly" in cookies[name] and "SameSite=Lax" in cookies[name]


# --- password reset ------------------------------------------------------------------------

def test_reset_answers_alike_and_works_once(client, admin, outbox):
    unknown = _html(submit(client, "/user/reset", data={"email": "khong-co@example.org"}))
    known = _html(submit(client, "/user/reset", data={"email": "admin@a.gov.vn"}))
    assert unknown == known and "đã gửi đến đó một thư" in known and len(outbox) == 1
    path = _link_path(outbox[0])
    assert "admin-a" in _html(client.get(path))
    short = submit(client, path, data={"password": "ngan", "password_confirm": "ngan"})
    assert short.status_code == 422 and "Mật khẩu cần từ 10" in _html(short)
    response = submit(client, path, data={"password": "mat-khau-moi-dai", "password_confirm": "mat-khau-moi-dai"})
    assert response.status_code == 302 and response.location == "/user/login"
    assert "Mật khẩu đã được đổi" in _html(client.get("/user/login"))
    again = client.get(path)
    assert again.status_code == 410 and "đã được dùng" in _html(again)
    assert _login(client, "admin-a", PASSWORD).status_code == 401
    assert _login(client, "admin-a", "mat-khau-moi-dai").status_code == 302


# --- API tokens ----------------------------------------------------------------------------

def test_a_token_is_shown_once_then_authenticates_until_revoked(client, admin):
    sign_in(client, admin)
    response = submit(client, "/user/account", "/user/account/tokens", {"name": "Máy thu thập", "expires_on": ""})
    html = _html(response)
    secret = re.search(r'id="new-secret"[^>]*value="(odl_[^"]+)"', html).group(1)
    assert response.status_code == 201 and "lần duy nhất" in html and response.headers["Cache-Control"] == "no-store"
    page = _html(client.get("/user/account"))
    assert secret not in page and "<td><strong>Máy thu thập</strong></td>" in page and "Chưa dùng" in page

    app_client = _client(client.application)  # no session: the token alone
    assert app_client.get("/user/account", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert "Chưa dùng" not in _html(client.get("/user/account"))  # last use is shown

    token = db.session.scalar(select(ApiToken))
    assert submit(client, "/user/account", f"/user/account/tokens/{token.id}/revoke").status_code == 302
    assert app_client.get("/user/account", headers={"Authorization": f"Bearer {secret}"}).status_code == 302
    assert "<td><strong>Máy thu thập</strong></td>" not in _html(client.get("/user/account"))


def test_an_expired_token_no_longer_authenticates(client, system, admin):
    token, secret = accounts.create_token(admin, admin, "ngắn hạn", expires_at=utcnow() + timedelta(hours=1))
    assert client.get("/user/account", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/user/account", headers={"Authorization": f"Bearer {secret}"}).status_code == 302
    assert client.get("/user/account", headers={"X-CKAN-API-Key": secret}).status_code == 302


def test_bad_token_input_shows_the_form_again(client, admin):
    sign_in(client, admin)
    response = submit(client, "/user/account", "/user/account/tokens", {"name": "", "expires_on": "2000-01-01"})
    assert response.status_code == 422 and "Trường này là bắt buộc." in _html(response)
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_one_cannot_revoke_someone_elses_token(client, system, admin):
    other = make_user(system)
    token, secret = accounts.create_token(other, other, "của người khác")
    sign_in(client, admin)
    response = submit(client, "/user/account", f"/user/account/tokens/{token.id}/revoke")
    assert response.status_code == 404 and accounts.user_for_token(secret) == other


# --- members -------------------------------------------------------------------------------

def test_an_agency_admin_manages_their_agency_only(client, system, admin, agencies, outbox):
    member = make_user(system, agencies[0], "member", name="thanh-vien")
    sign_in(client, admin)
    page = client.get("/organization/so-a/members")
    assert page.status_code == 200 and "thanh-vien" in _html(page)
    assert submit(client, "/organization/so-a/members", "/organization/so-a/members/thanh-vien/role",
                  {"role": "editor"}).status_code == 302
    assert member.memberships[0].role == "editor"
    assert submit(client, "/organization/so-a/members", "/organization/so-a/members/thanh-vien/remove"
                  ).status_code == 302
    assert member.memberships == []

    assert client.get("/organization/so-b/members").status_code == 403
    assert submit(client, "/organization/so-a/members", "/organization/so-b/members/invite",
                  {"email": "x@example.org", "role": "admin"}).status_code == 403
    assert client.get("/organization/khong-co/members").status_code == 404
    assert outbox == []


def test_editors_cannot_manage_members(client, system, admin, agencies):
    editor = make_user(system, agencies[0], "editor")
    sign_in(client, editor)
    assert client.get("/organization/so-a/members").status_code == 403
    response = submit(client, "/user/account", "/organization/so-a/members/admin-a/role", {"role": "member"})
    assert response.status_code == 403 and admin.memberships[0].role == "admin"


def test_the_last_admin_stays(client, admin, agencies):
    sign_in(client, admin)
    response = submit(client, "/organization/so-a/members", "/organization/so-a/members/admin-a/remove")
    assert response.status_code == 409 and "ít nhất một quản trị viên" in _html(response)
    response = submit(client, "/organization/so-a/members", "/organization/so-a/members/admin-a/role",
                      {"role": "editor"})
    assert response.status_code == 409 and admin.memberships[0].role == "admin"


def test_invitations_are_validated_and_revoked_from_the_members_page(client, admin, agencies, outbox):
    sign_in(client, admin)
    response = submit(client, "/organization/so-a/members", "/organization/so-a/members/invite",
                      {"email": "khong-hop-le", "role": "editor"})
    assert response.status_code == 422 and "Địa chỉ thư điện tử không hợp lệ." in _html(response)
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0
    invitation, secret = accounts.invite(admin, agencies[0], "x@example.org", "member")
    assert submit(client, "/organization/so-a/members",
                  f"/organization/so-a/invitations/{invitation.id}/revoke").status_code == 302
    assert "<strong>x@example.org</strong>" not in _html(client.get("/organization/so-a/members"))
    assert client.get(f"/user/invite/{secret}").status_code == 410


# --- users (sysadmins) ---------------------------------------------------------------------

def test_sysadmins_list_block_and_invite(app, client, system, admin, agencies, outbox):
    sysadmin = make_user(system, is_sysadmin=True, name="quan-tri-cong")
    sign_in(client, sysadmin)
    html = _html(client.get("/user/"))
    assert "admin-a" in html and "Sở A: quản trị viên" in html
    assert submit(client, "/user/", "/user/admin-a/active", {"active": "0"}).status_code == 302
    assert admin.active is False
    assert _login(_client(app), "admin-a").status_code == 401
    assert submit(client, "/user/", "/user/invite", {"email": "moi@example.org", "agency": "so-b",
                                                     "role": "admin"}).status_code == 302
    assert outbox[0]["to"] == "moi@example.org"
    response = submit(client, "/user/", "/user/invite", {"email": "moi@example.org", "agency": "", "role": "admin"})
    assert response.status_code == 422 and "Hãy chọn một cơ quan." in _html(response)


def test_the_users_page_is_for_sysadmins(client, admin):
    sign_in(client, admin)
    assert client.get("/user/").status_code == 403
    assert submit(client, "/user/account", "/user/admin-a/active", {"active": "0"}).status_code == 403
    assert admin.active is True
