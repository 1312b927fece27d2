"""Account services: invitations, memberships, API tokens, password reset, login and mail."""

from __future__ import annotations

import json
import logging
import re
import socket
from datetime import date, timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from opendata import mail
from opendata.accounts import services as accounts
from opendata.accounts.models import Invitation, LoginAttempt, Membership
from opendata.accounts.throttle import Throttled
from opendata.activity.models import Activity
from opendata.catalog.models import utcnow
from opendata.errors import Conflict, Forbidden, NotFound, ValidationFailed
from opendata.extensions import db
from tests.factories import make_agency, make_user

LINK = re.compile(r"http://[^\s]+/user/(?:invite|reset)/[^\s]+")


@pytest.fixture
def outbox(monkeypatch):
    """Messages the services send, instead of going to SMTP or the log."""
    sent: list[dict] = []
    monkeypatch.setattr(mail, "send", lambda to, subject, body: sent.append({"to": to, "subject": subject,
                                                                            "body": body}))
    return sent


@pytest.fixture
def agency(system):
    return make_agency(system, name="so-tai-nguyen", title="Sở Tài nguyên và Môi trường")


@pytest.fixture
def admin(system, agency):
    return make_user(system, agency, "admin", name="quan-tri", email="quantri@lamdong.gov.vn")


def _link(message: dict) -> str:
    return LINK.search(message["body"]).group(0)


def _secret(link: str) -> str:
    return link.rsplit("/", 1)[1]


def _activities(verb: str) -> list[Activity]:
    return list(db.session.scalars(select(Activity).where(Activity.verb == verb).order_by(Activity.id)))


def _new_user(name="nguoi-moi", password="mat-khau-moi-123"):
    return {"name": name, "fullname": "Người Mới", "password": password, "password_confirm": password}


# --- invitations ---------------------------------------------------------------------------

def test_invite_stores_only_a_hash_expires_and_mails_the_link(app, admin, agency, outbox):
    invitation, secret = accounts.invite(admin, agency, " Can.Bo@LamDong.gov.vn ", "editor")
    assert invitation.token_hash == accounts._hash_token(secret) and secret not in invitation.token_hash
    assert invitation.email == "can.bo@lamdong.gov.vn" and invitation.role == "editor"
    assert abs(invitation.expires_at - (utcnow() + timedelta(days=app.config["INVITATION_DAYS"]))) < timedelta(minutes=1)
    assert [message["to"] for message in outbox] == ["can.bo@lamdong.gov.vn"]
    assert _link(outbox[0]) == f"{app.config['SITE_URL']}/user/invite/{secret}"
    assert "Sở Tài nguyên và Môi trường" in outbox[0]["body"]
    [activity] = _activities("invitation:create")
    assert activity.agency_id == agency.id and activity.data["after"]["role"] == "editor"
    assert secret not in json.dumps(activity.data)


def test_only_admins_of_the_agency_invite(system, admin, agency, outbox):
    editor = make_user(system, agency, "editor")
    other = make_agency(system)
    with pytest.raises(Forbidden):
        accounts.invite(editor, agency, "a@example.org", "member")
    with pytest.raises(Forbidden):
        accounts.invite(admin, other, "a@example.org", "member")
    accounts.invite(system, other, "a@example.org", "admin")  # sysadmins invite anywhere
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1 and len(outbox) == 1


def test_invite_validates_and_refuses_members(system, admin, agency, outbox):
    with pytest.raises(ValidationFailed) as error:
        accounts.invite(admin, agency, "khong-phai-thu", "chief")
    assert set(error.value.fields) == {"email", "role"}
    with pytest.raises(ValidationFailed) as error:
        accounts.invite(admin, agency, "QUANTRI@lamdong.gov.vn", "editor")
    assert error.value.fields == {"email": ["Người này đã là thành viên của cơ quan."]}
    assert outbox == [] and db.session.scalar(select(func.count()).select_from(Invitation)) == 0


def test_inviting_again_replaces_the_pending_invitation(admin, agency, outbox):
    first, first_secret = accounts.invite(admin, agency, "x@example.org", "member")
    second, _ = accounts.invite(admin, agency, "x@example.org", "editor")
    assert first.revoked_at is not None and second.revoked_at is None
    assert accounts.pending_invitations(admin, agency) == [second]
    with pytest.raises(accounts.LinkInvalid):
        accounts.get_invitation(first_secret)


def test_a_mail_failure_revokes_the_invitation(admin, agency, monkeypatch):
    def refuse(to, subject, body):
        raise mail.MailFailed()
    monkeypatch.setattr(mail, "send", refuse)
    with pytest.raises(mail.MailFailed):
        accounts.invite(admin, agency, "x@example.org", "member")
    invitation = db.session.scalar(select(Invitation))
    assert invitation.revoked_at is not None
    assert _activities("invitation:revoke")[0].data["after"]["reason"] == "mail_failed"


def test_a_new_user_accepts_once(admin, agency, outbox):
    _, secret = accounts.invite(admin, agency, "moi@example.org", "editor")
    user = accounts.accept_invitation(secret, _new_user())
    assert user.email == "moi@example.org" and user.fullname == "Người Mới"
    assert accounts.check_password(user, "mat-khau-moi-123")
    membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id))
    assert membership.agency_id == agency.id and membership.role == "editor"
    invitation = db.session.scalar(select(Invitation))
    assert invitation.accepted_at is not None and invitation.user_id == user.id
    assert [a.verb for a in db.session.scalars(select(Activity).where(Activity.actor_id == user.id)
                                                   .order_by(Activity.id))] == [
        "user:create", "invitation:accept", "membership:create"]
    assert "mat-khau-moi-123" not in json.dumps([a.data for a in db.session.scalars(select(Activity))])
    with pytest.raises(accounts.LinkInvalid, match="đã được sử dụng"):
        accounts.accept_invitation(secret, _new_user("nguoi-khac"))


def test_expired_revoked_and_unknown_links_are_refused(admin, agency, outbox):
    expired, expired_secret = accounts.invite(admin, agency, "a@example.org", "member")
    expired.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    revoked, revoked_secret = accounts.invite(admin, agency, "b@example.org", "member")
    accounts.revoke_invitation(admin, revoked)
    with pytest.raises(accounts.LinkInvalid, match="hết hạn"):
        accounts.accept_invitation(expired_secret, _new_user())
    with pytest.raises(accounts.LinkInvalid, match="thu hồi"):
        accounts.accept_invitation(revoked_secret, _new_user())
    with pytest.raises(NotFound):
        accounts.accept_invitation("khong-co", _new_user())
    assert db.session.scalar(select(func.count()).select_from(Membership)) == 1  # the admin only


def test_accepting_validates_the_new_account(system, admin, agency, outbox):
    _, secret = accounts.invite(admin, agency, "moi@example.org", "member")
    with pytest.raises(ValidationFailed) as error:
        accounts.accept_invitation(secret, {**_new_user(), "password": "ngan", "password_confirm": "ngan"})
    assert "password" in error.value.fields
    with pytest.raises(ValidationFailed) as error:
        accounts.accept_invitation(secret, {**_new_user(), "password_confirm": "khac-hoan-toan"})
    assert error.value.fields == {"password_confirm": ["Hai lần nhập mật khẩu không khớp."]}
    with pytest.raises(ValidationFailed) as error:
        accounts.accept_invitation(secret, _new_user(name="quan-tri"))
    assert "name" in error.value.fields
    assert db.session.scalar(select(Invitation)).accepted_at is None


def test_an_existing_user_joins_and_keeps_a_higher_role(system, admin, agency, outbox):
    other = make_agency(system)
    user = make_user(system, other, "admin", email="co@example.org")
    _, secret = accounts.invite(admin, agency, "co@example.org", "member")
    with pytest.raises(Conflict):  # the address has an account: log in first
        accounts.accept_invitation(secret, _new_user())
    assert accounts.accept_invitation(secret, {}, user=user) == user
    assert {m.agency_id: m.role for m in user.memberships} == {agency.id: "member", other.id: "admin"}
    # Invited as an editor where it became an admin meanwhile (by another way): it stays admin.
    third = make_agency(system)
    _, lower = accounts.invite(system, third, "co@example.org", "editor")
    accounts.add_member(system, third, user, "admin")
    accounts.accept_invitation(lower, {}, user=user)
    assert {m.agency_id: m.role for m in user.memberships}[third.id] == "admin"


def test_an_invitation_cannot_be_taken_by_another_account(system, admin, agency, outbox):
    mallory = make_user(system, email="mallory@example.org")
    _, secret = accounts.invite(admin, agency, "alice@example.org", "admin")
    with pytest.raises(Conflict):
        accounts.accept_invitation(secret, {}, user=mallory)
    assert mallory.memberships == []


# --- memberships ---------------------------------------------------------------------------

def test_change_role_and_remove_record_before_and_after(system, admin, agency):
    user = make_user(system, agency, "member")
    accounts.change_role(admin, agency, user, "editor")
    [update_activity] = [a for a in _activities("membership:update")]
    assert update_activity.data["before"] == {"role": "member"} and update_activity.data["after"]["role"] == "editor"
    accounts.remove_member(admin, agency, user)
    [delete_activity] = _activities("membership:delete")
    assert delete_activity.data["before"]["role"] == "editor" and delete_activity.agency_id == agency.id
    assert user.memberships == []
    with pytest.raises(NotFound):
        accounts.change_role(admin, agency, user, "editor")


def test_an_agency_keeps_its_last_admin(system, admin, agency):
    with pytest.raises(Conflict, match="ít nhất một quản trị viên"):
        accounts.change_role(admin, agency, admin, "editor")
    with pytest.raises(Conflict):
        accounts.remove_member(admin, agency, admin)
    with pytest.raises(Conflict):
        accounts.add_member(admin, agency, admin, "member")
    assert accounts.list_members(admin, agency)[0].role == "admin"
    second = make_user(system, agency, "admin")
    accounts.remove_member(admin, agency, admin)  # another admin remains
    accounts.change_role(system, agency, second, "editor")  # a sysadmin may leave it without one
    assert [m.role for m in accounts.list_members(system, agency)] == ["editor"]


def test_editors_and_outsiders_cannot_manage_members(system, admin, agency):
    editor = make_user(system, agency, "editor")
    outsider_admin = make_user(system, make_agency(system), "admin")
    for actor in (editor, outsider_admin):
        with pytest.raises(Forbidden):
            accounts.change_role(actor, agency, admin, "member")
        with pytest.raises(Forbidden):
            accounts.list_members(actor, agency)
    assert accounts.list_members(admin, agency)[0].role == "admin"


def test_blocking_is_for_sysadmins_and_not_oneself(system, admin, agency):
    sysadmin = make_user(system, is_sysadmin=True)
    with pytest.raises(Forbidden):
        accounts.set_user_active(admin, sysadmin, False)
    with pytest.raises(Conflict):
        accounts.set_user_active(sysadmin, sysadmin, False)
    accounts.set_user_active(sysadmin, admin, False)
    assert admin.active is False
    assert _activities("user:update")[0].data == {"before": {"active": True}, "after": {"active": False}}


# --- API tokens ----------------------------------------------------------------------------

def test_tokens_are_issued_listed_used_and_revoked(system, admin):
    token, secret = accounts.issue_token(admin, admin, {"name": "Máy thu thập", "expires_on": ""})
    assert token.expires_at is None and token.token_hash != secret
    assert accounts.user_for_token(secret) == admin
    assert token.last_used_at is not None
    assert accounts.list_tokens(admin) == [token]
    other = make_user(system)
    with pytest.raises(Forbidden):
        accounts.revoke_token(other, token)
    accounts.revoke_token(admin, token)
    assert accounts.user_for_token(secret) is None and accounts.list_tokens(admin) == []
    verbs = [a.verb for a in db.session.scalars(select(Activity).where(Activity.object_id == token.id)
                                                .order_by(Activity.id))]
    assert verbs == ["token:create", "token:revoke"]
    assert secret not in json.dumps([a.data for a in db.session.scalars(select(Activity))])


def test_token_expiry_and_blocked_owners(system, admin):
    with pytest.raises(ValidationFailed) as error:
        accounts.issue_token(admin, admin, {"name": "cũ", "expires_on": (date.today() - timedelta(days=2)).isoformat()})
    assert "expires_on" in error.value.fields
    token, secret = accounts.issue_token(admin, admin, {"name": "hôm nay", "expires_on": utcnow().date().isoformat()})
    assert accounts.user_for_token(secret) == admin  # valid through the chosen day
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert accounts.user_for_token(secret) is None
    _, other_secret = accounts.create_token(admin, admin, "khác")
    accounts.set_user_active(system, admin, False)
    assert accounts.user_for_token(other_secret) is None


# --- password reset ------------------------------------------------------------------------

def test_reset_request_answers_alike_and_mails_only_real_accounts(system, admin, outbox):
    assert accounts.request_password_reset("khong-ai@example.org") is None
    assert outbox == []
    assert accounts.request_password_reset("QuanTri@LamDong.gov.vn") is None
    assert [message["to"] for message in outbox] == ["quantri@lamdong.gov.vn"]
    assert "/user/reset/" in _link(outbox[0])
    accounts.set_user_active(system, admin, False)
    accounts.request_password_reset("quantri@lamdong.gov.vn")
    assert len(outbox) == 1  # blocked accounts get no link


def test_a_reset_link_works_once_and_dies_with_a_password_change(admin, outbox):
    accounts.request_password_reset(admin.email)
    accounts.request_password_reset(admin.email)
    first, second = (_secret(_link(message)) for message in outbox)
    assert accounts.user_for_reset(first) == admin
    with pytest.raises(ValidationFailed):
        accounts.reset_password(first, "ngan", confirm="ngan")
    accounts.reset_password(first, "mat-khau-moi-dai", confirm="mat-khau-moi-dai")
    assert accounts.check_password(admin, "mat-khau-moi-dai")
    with pytest.raises(accounts.LinkInvalid, match="đã được dùng"):
        accounts.reset_password(first, "lan-thu-hai-nua", confirm="lan-thu-hai-nua")
    with pytest.raises(accounts.LinkInvalid):  # issued before the change
        accounts.reset_password(second, "lan-thu-hai-nua")
    assert accounts.check_password(admin, "mat-khau-moi-dai")
    [activity] = _activities("user:password_reset")
    assert activity.actor_id == admin.id and activity.data == {}


def test_a_reset_link_expires_after_an_hour(admin, outbox, monkeypatch):
    now = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now(self) - accounts.RESET_MAX_AGE - 5)
    accounts.request_password_reset(admin.email)
    monkeypatch.undo()
    with pytest.raises(accounts.LinkInvalid, match="hết hạn"):
        accounts.user_for_reset(_secret(_link(outbox[0])))
    with pytest.raises(accounts.LinkInvalid, match="không hợp lệ"):
        accounts.user_for_reset(_secret(_link(outbox[0])) + "x")


# --- login ---------------------------------------------------------------------------------

def test_login_by_name_or_email_in_any_case(admin):
    assert accounts.authenticate("QUAN-TRI", "mat-khau-du-dai", "10.0.0.1") == admin
    assert accounts.authenticate(" QuanTri@LamDong.gov.vn ", "mat-khau-du-dai", "10.0.0.1") == admin
    assert admin.last_login_at is not None


def test_failures_are_generic_and_recorded(system, admin):
    messages = set()
    for login, password in [("quan-tri", "sai-mat-khau"), ("khong-ton-tai", "mat-khau-du-dai"), ("system", "x")]:
        with pytest.raises(accounts.InvalidCredentials) as error:
            accounts.authenticate(login, password, "10.0.0.2")
        messages.add(error.value.message)
    assert messages == {"Tên đăng nhập hoặc mật khẩu không đúng."}
    assert set(db.session.scalars(select(LoginAttempt.account))) == {"quan-tri", "khong-ton-tai", "system"}
    with pytest.raises(ValidationFailed) as error:
        accounts.authenticate("", "", "10.0.0.2")
    assert set(error.value.fields) == {"login", "password"}


def test_blocked_users_cannot_log_in(system, admin):
    accounts.set_user_active(system, admin, False)
    with pytest.raises(accounts.InvalidCredentials, match="bị khóa"):
        accounts.authenticate("quan-tri", "mat-khau-du-dai", "10.0.0.3")
    with pytest.raises(accounts.InvalidCredentials, match="không đúng"):  # no hint without the password
        accounts.authenticate("quan-tri", "sai-mat-khau", "10.0.0.3")


def _age_attempts(seconds: int) -> None:
    """Move every failed login back in time (SQL date arithmetic differs between SQLite and PostgreSQL)."""
    for attempt in db.session.scalars(select(LoginAttempt)):
        attempt.created_at -= timedelta(seconds=seconds)
    db.session.commit()


def test_an_account_is_throttled_then_released_by_the_window(app, admin):
    limit = app.config["LOGIN_MAX_FAILURES"]
    for number in range(limit):  # the failures come from several addresses
        with pytest.raises(accounts.InvalidCredentials):
            accounts.authenticate("QuanTri@lamdong.gov.vn" if number % 2 else "quan-tri", "sai", f"10.1.0.{number}")
    with pytest.raises(Throttled) as error:
        accounts.authenticate("quan-tri", "mat-khau-du-dai", "10.9.9.9")
    assert error.value.status == 429
    assert re.search(r"thử lại sau (\d+) phút", error.value.message).group(1) == str(app.config["LOGIN_WINDOW"] // 60)
    _age_attempts(app.config["LOGIN_WINDOW"] + 1)
    assert accounts.authenticate("quan-tri", "mat-khau-du-dai", "10.9.9.9") == admin
    assert db.session.scalar(select(func.count()).select_from(LoginAttempt)) == 0


def test_an_address_is_throttled_across_accounts(app, admin):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    for number in range(3):
        with pytest.raises(accounts.InvalidCredentials):
            accounts.authenticate(f"doan-{number}", "sai", "192.0.2.7")
    with pytest.raises(Throttled):
        accounts.authenticate("quan-tri", "mat-khau-du-dai", "192.0.2.7")
    assert accounts.authenticate("quan-tri", "mat-khau-du-dai", "192.0.2.8") == admin  # another address
    _age_attempts(app.config["LOGIN_WINDOW"] - 30)  # the oldest leaves the window in 30 s
    with pytest.raises(Throttled, match="sau 1 phút"):
        accounts.authenticate("quan-tri", "mat-khau-du-dai", "192.0.2.7")
    _age_attempts(31)
    assert accounts.authenticate("quan-tri", "mat-khau-du-dai", "192.0.2.7") == admin


# --- mail ----------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Inbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((session.authenticated, envelope))
        return "250 OK"


@pytest.fixture
def smtp_server(app):
    inbox = _Inbox()

    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"cong", b"mat-khau-smtp"))

    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(), authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_STARTTLS=False,
                      MAIL_USERNAME="cong", MAIL_PASSWORD="mat-khau-smtp")
    yield inbox
    controller.stop()


def test_an_invitation_goes_through_a_real_smtp_server(app, admin, agency, smtp_server):
    _, secret = accounts.invite(admin, agency, "nhan@example.org", "editor")
    [(authenticated, envelope)] = smtp_server.envelopes
    assert authenticated is True
    assert envelope.rcpt_tos == ["nhan@example.org"] and "no-reply@localhost" in envelope.mail_from
    parsed = message_from_bytes(envelope.content, policy=policy.default)
    assert parsed["Subject"] == "Lời mời tham gia Sở Tài nguyên và Môi trường"
    assert f"/user/invite/{secret}" in parsed.get_content()


def test_smtp_failures_raise_mail_failed(app):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port(), MAIL_STARTTLS=False)  # nobody listens
    with pytest.raises(mail.MailFailed):
        mail.send("a@example.org", "Thử", "Nội dung")


def test_without_a_mail_server_the_message_goes_to_the_log(app, admin, agency, caplog, monkeypatch):
    assert not app.config["MAIL_SERVER"]
    # Alembic's fileConfig (migrations/env.py, run by the fixtures) disables the loggers that exist.
    monkeypatch.setattr(logging.getLogger("opendata.mail"), "disabled", False)
    with caplog.at_level("INFO", logger="opendata.mail"):
        _, secret = accounts.invite(admin, agency, "log@example.org", "member")
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name == "opendata.mail")
    assert "To: log@example.org" in logged and f"/user/invite/{secret}" in logged


def test_cli_invites_and_prints_the_link_last(app, runner, agency, outbox):
    result = runner.invoke(args=["user", "invite", "cli@example.org", agency.name, "editor"])
    assert result.exit_code == 0, result.output
    link = result.output.strip().splitlines()[-1]
    assert link == _link(outbox[0])
    assert accounts.get_invitation(_secret(link)).role == "editor"
    bad = runner.invoke(args=["user", "invite", "cli@example.org", "khong-co", "editor"])
    assert bad.exit_code != 0 and "Không tìm thấy cơ quan" in bad.output
