"""Account services: users, agency memberships, invitations, API tokens, login and password reset.

Like every service, these take the acting user explicitly. The system actor
(``system_actor()``) stands for the portal itself (sample loader, maintenance
commands); it is a sysadmin that cannot log in, never a skip-auth flag.

Publishers do not register themselves: an agency admin (or a sysadmin) invites
an e-mail address; the link in the e-mail carries a secret of which only the
SHA-256 is stored. Password-reset links are signed instead (itsdangerous) and
embed a fingerprint of the current password hash, so they work once.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from marshmallow import ValidationError
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import selectinload

from opendata import authz, mail
from opendata.accounts import throttle
from opendata.accounts.models import ApiToken, Invitation, Membership, Role, User
from opendata.accounts.schemas import (
    AcceptInvitationSchema, InvitationSchema, MembershipSchema, NewPasswordSchema, TokenSchema, UserSchema,
)
from opendata.activity.recorder import record
from opendata.authz import Action
from opendata.catalog.models import Agency, utcnow
from opendata.catalog.schemas import MESSAGES
from opendata.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from opendata.extensions import db

log = logging.getLogger(__name__)
SYSTEM_USER = "system"
TOKEN_PREFIX = "odl_"
RESET_MAX_AGE = 3600  # seconds a password-reset link stays valid
ROLE_LABELS = {Role.ADMIN: "Quản trị viên", Role.EDITOR: "Biên tập viên", Role.MEMBER: "Thành viên"}
_ROLE_RANK = {Role.MEMBER: 0, Role.EDITOR: 1, Role.ADMIN: 2}
# Argon2id: memory-hard, as recommended for password storage.
_hasher = PasswordHasher()


class LinkInvalid(AppError):
    """An invitation or reset link that was valid once: expired, used or revoked."""

    status = 410
    code = "link_invalid"
    message = "Liên kết này không còn hiệu lực."


class InvalidCredentials(AppError):
    status = 401
    code = "invalid_credentials"
    message = "Tên đăng nhập hoặc mật khẩu không đúng."


def _load(schema, payload: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return schema.load(dict(payload))
    except ValidationError as error:
        raise ValidationFailed(fields=error.messages) from error


def _link(path: str) -> str:
    return current_app.config["SITE_URL"].rstrip("/") + path


# --- users ---------------------------------------------------------------------------------

def system_actor() -> User:
    """The portal's own sysadmin account, created on first use."""
    user = db.session.scalar(select(User).where(User.name == SYSTEM_USER))
    if user is None:
        user = User(name=SYSTEM_USER, fullname="Hệ thống", is_sysadmin=True, is_system=True)
        db.session.add(user)
        db.session.commit()
    return user


def get_user(name_or_id: str) -> User:
    """Raises NotFound."""
    user = db.session.scalar(select(User).where((User.name == name_or_id) | (User.id == name_or_id)))
    if user is None or user.is_system:
        raise NotFound("Không tìm thấy người dùng này.")
    return user


def _user_with_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def create_user(actor: User, payload: Mapping[str, Any]) -> User:
    """Create an account. Sysadmins only (publishers do not self-register).

    Raises Forbidden, ValidationFailed.
    """
    authz.require(actor, Action.USER_CREATE)
    data = _load(UserSchema(), payload)
    errors: dict[str, list[str]] = {}
    if db.session.scalar(select(User.id).where(User.name == data["name"])):
        errors["name"] = ["Tên đăng nhập đã tồn tại."]
    if _user_with_email(data["email"]):
        errors["email"] = ["Địa chỉ thư điện tử đã được dùng."]
    if errors:
        raise ValidationFailed(fields=errors)
    password = data.pop("password")
    user = User(**data, password_hash=_hasher.hash(password))
    db.session.add(user)
    db.session.flush()
    record(actor, "user:create", user, after=UserSchema().dump(user))
    db.session.commit()
    log.info("user %s created by %s", user.id, actor.id)
    return user


def list_users(actor: User) -> list[User]:
    """Every account but the system one, with its memberships. Sysadmins only; raises Forbidden."""
    authz.require(actor, Action.USER_CREATE)
    return list(db.session.scalars(
        select(User).where(User.is_system.is_(False)).order_by(User.name)
        .options(selectinload(User.memberships).selectinload(Membership.agency))))


def set_user_active(actor: User, user: User, active: bool) -> User:
    """Block (``active=False``) or unblock an account. Sysadmins only.

    A blocked user cannot log in and their API tokens stop working. Raises Forbidden, Conflict.
    """
    authz.require(actor, Action.USER_CREATE)
    if user.id == actor.id and not active:
        raise Conflict("Bạn không thể tự khóa tài khoản của mình.")
    if user.active != active:
        before = {"active": user.active}
        user.active = active
        record(actor, "user:update", user, before=before, after={"active": active})
        db.session.commit()
        log.info("user %s %s by %s", user.id, "unblocked" if active else "blocked", actor.id)
    return user


def check_password(user: User, password: str) -> bool:
    if user.is_system or not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _spend_a_verification(password: str) -> None:
    """Take as long as checking a real password, so timing does not tell which accounts exist."""
    try:
        _hasher.verify(_dummy_hash(), password)
    except VerificationError:
        pass


def authenticate(login: str, password: str, address: str) -> User:
    """The user with this name or e-mail (any case) and password; records the login.

    Throttling comes first, so a correct password does not help once an account
    or an address has too many recent failures. Raises Throttled (429) and
    InvalidCredentials, whose message never says which part was wrong;
    ValidationFailed when a field is empty.
    """
    missing = {field: [MESSAGES["required"]] for field, value in (("login", login), ("password", password))
               if not (value or "").strip()}
    if missing:
        raise ValidationFailed(fields=missing)
    key = login.strip().lower()
    user = db.session.scalar(select(User).where(or_(User.name == key, func.lower(User.email) == key)))
    account = user.name if user is not None else key[:255]
    throttle.check(account, address)
    if user is None or user.is_system:
        _spend_a_verification(password or "")
        valid = False
    else:
        valid = check_password(user, password or "")
    if not valid:
        throttle.record_failure(account, address)
        db.session.commit()
        raise InvalidCredentials()
    if not user.active:
        raise InvalidCredentials("Tài khoản này đã bị khóa. Vui lòng liên hệ quản trị viên cổng.")
    throttle.clear(account)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    db.session.commit()
    return user


# --- memberships ---------------------------------------------------------------------------

def _membership(agency: Agency, user: User) -> Membership | None:
    return db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.agency_id == agency.id))


def _keep_an_admin(actor: User, membership: Membership, new_role: str | None) -> None:
    """Refuse to leave an agency without admin, unless a sysadmin (who can fix it later) acts."""
    if membership.role != Role.ADMIN or new_role == Role.ADMIN or actor.is_sysadmin:
        return
    # FOR UPDATE (PostgreSQL): two admins demoting each other at once cannot both succeed.
    others = db.session.scalars(select(Membership.id).where(
        Membership.agency_id == membership.agency_id, Membership.role == Role.ADMIN,
        Membership.id != membership.id).with_for_update()).all()
    if not others:
        raise Conflict("Cơ quan phải còn ít nhất một quản trị viên. Hãy chỉ định quản trị viên khác trước.")


def _role(role: str) -> Role:
    return Role(_load(MembershipSchema(), {"role": role})["role"])


def _member_facts(membership: Membership) -> dict[str, str]:
    return {"user": membership.user.name, "agency": membership.agency.name, "role": membership.role}


def list_members(actor: User, agency: Agency) -> list[Membership]:
    """The agency's members, admins first. Agency admins and sysadmins; raises Forbidden."""
    authz.require(actor, Action.AGENCY_MANAGE_MEMBERS, agency)
    memberships = db.session.scalars(select(Membership).where(Membership.agency_id == agency.id)
                                     .options(selectinload(Membership.user))).all()
    return sorted(memberships, key=lambda m: (-_ROLE_RANK[Role(m.role)], m.user.name))


def add_member(actor: User, agency: Agency, user: User, role: str) -> Membership:
    """Give ``user`` a role in ``agency``, or change the role they have.

    Agency admins and sysadmins. Raises Forbidden, ValidationFailed, Conflict (last admin).
    """
    authz.require(actor, Action.AGENCY_MANAGE_MEMBERS, agency)
    role = _role(role)
    membership = _membership(agency, user)
    before = {"role": membership.role} if membership else None
    if membership is None:
        membership = Membership(user=user, agency=agency, role=role)
        db.session.add(membership)
    else:
        _keep_an_admin(actor, membership, role)
    membership.role = role
    db.session.flush()
    record(actor, "membership:update" if before else "membership:create", membership, agency_id=agency.id,
           before=before, after=_member_facts(membership))
    db.session.commit()
    return membership


def change_role(actor: User, agency: Agency, user: User, role: str) -> Membership:
    """Change a member's role. Agency admins and sysadmins.

    Raises Forbidden, NotFound (not a member), ValidationFailed, Conflict (last admin).
    """
    authz.require(actor, Action.AGENCY_MANAGE_MEMBERS, agency)
    role = _role(role)
    membership = _membership(agency, user)
    if membership is None:
        raise NotFound("Người này không phải thành viên của cơ quan.")
    if membership.role == role:
        return membership
    _keep_an_admin(actor, membership, role)
    before = {"role": membership.role}
    membership.role = role
    record(actor, "membership:update", membership, agency_id=agency.id, before=before,
           after=_member_facts(membership))
    db.session.commit()
    return membership


def remove_member(actor: User, agency: Agency, user: User) -> None:
    """Take ``user`` out of ``agency``. Agency admins and sysadmins.

    Raises Forbidden, NotFound (not a member), Conflict (last admin).
    """
    authz.require(actor, Action.AGENCY_MANAGE_MEMBERS, agency)
    membership = _membership(agency, user)
    if membership is None:
        raise NotFound("Người này không phải thành viên của cơ quan.")
    _keep_an_admin(actor, membership, None)
    record(actor, "membership:delete", membership, agency_id=agency.id, before=_member_facts(membership))
    db.session.delete(membership)
    db.session.commit()


# --- invitations ---------------------------------------------------------------------------

def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _invitation_facts(invitation: Invitation) -> dict[str, str]:
    return {"email": invitation.email, "agency": invitation.agency.name, "role": invitation.role}


def pending_invitations(actor: User, agency: Agency) -> list[Invitation]:
    """Invitations of the agency not yet accepted, revoked or expired. Agency admins and sysadmins."""
    authz.require(actor, Action.AGENCY_MANAGE_MEMBERS, agency)
    return list(db.session.scalars(select(Invitation).where(
        Invitation.agency_id == agency.id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
        Invitation.expires_at > utcnow()).order_by(Invitation.created_at.desc())))


def get_agency_invitation(agency: Agency, invitation_id: str) -> Invitation:
    """Raises NotFound."""
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.agency_id != agency.id:
        raise NotFound("Không tìm thấy lời mời này.")
    return invitation


def _revoke(actor: User, invitation: Invitation, reason: str) -> None:
    invitation.revoked_at = utcnow()
    record(actor, "invitation:revoke", invitation, agency_id=invitation.agency_id,
           after={**_invitation_facts(invitation), "reason": reason})


def invitation_link(secret: str) -> str:
    """The absolute address of an invitation (the accounts.invitation page)."""
    return _link("/user/invite/" + secret)


def invite(actor: User, agency: Agency, email: str, role: str) -> tuple[Invitation, str]:
    """Invite ``email`` into ``agency`` with ``role`` and e-mail them the link.

    Agency admins and sysadmins. Returns the invitation and its secret, which is
    stored only as a hash and cannot be shown again. A pending invitation of the
    same address to the same agency is replaced. If the e-mail cannot be sent, the
    invitation is revoked again. Raises Forbidden, ValidationFailed, MailFailed.
    """
    authz.require(actor, Action.AGENCY_MANAGE_MEMBERS, agency)
    data = _load(InvitationSchema(), {"email": email, "role": role})
    email = data["email"].lower()
    if db.session.scalar(select(Membership.id).join(User).where(
            Membership.agency_id == agency.id, func.lower(User.email) == email)):
        raise ValidationFailed(fields={"email": ["Người này đã là thành viên của cơ quan."]})
    for earlier in pending_invitations(actor, agency):
        if earlier.email == email:
            _revoke(actor, earlier, "replaced")
    secret = secrets.token_urlsafe(32)
    days = current_app.config["INVITATION_DAYS"]
    invitation = Invitation(token_hash=_hash_token(secret), email=email, agency=agency, role=data["role"],
                            invited_by=actor, expires_at=utcnow() + timedelta(days=days))
    db.session.add(invitation)
    db.session.flush()
    record(actor, "invitation:create", invitation, agency_id=agency.id,
           after={**_invitation_facts(invitation), "expires_at": invitation.expires_at.isoformat()})
    # Commit before mailing: the SMTP server must not hold a database transaction open.
    db.session.commit()
    log.info("invitation %s to agency %s created by %s", invitation.id, agency.id, actor.id)
    inviter = "Quản trị viên cổng" if actor.is_system else actor.display_name
    body = (f"Xin chào,\n\n{inviter} mời bạn tham gia {agency.title} trên {current_app.config['SITE_TITLE']} "
            f"với vai trò {ROLE_LABELS[Role(invitation.role)].lower()}.\n\n"
            f"Mở liên kết sau để nhận lời mời (hiệu lực trong {days} ngày, dùng được một lần):\n"
            f"{invitation_link(secret)}\n\n"
            "Nếu bạn không mong đợi thư này, hãy bỏ qua nó.\n")
    try:
        mail.send(email, f"Lời mời tham gia {agency.title}", body)
    except mail.MailFailed:
        _revoke(actor, invitation, "mail_failed")
        db.session.commit()
        raise
    return invitation, secret


def revoke_invitation(actor: User, invitation: Invitation) -> Invitation:
    """Make a pending invitation's link useless. Agency admins and sysadmins.

    Raises Forbidden, Conflict (already accepted).
    """
    authz.require(actor, Action.AGENCY_MANAGE_MEMBERS, invitation.agency)
    if invitation.accepted_at is not None:
        raise Conflict("Lời mời này đã được chấp nhận; hãy xóa thành viên nếu cần.")
    if invitation.revoked_at is None:
        _revoke(actor, invitation, "revoked")
        db.session.commit()
    return invitation


def get_invitation(secret: str) -> Invitation:
    """The usable invitation whose link carries ``secret``. Raises NotFound, LinkInvalid."""
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == _hash_token(secret)))
    if invitation is None:
        raise NotFound("Liên kết mời không hợp lệ. Hãy kiểm tra lại địa chỉ trong thư mời.")
    if invitation.accepted_at is not None:
        raise LinkInvalid("Lời mời này đã được sử dụng. Nếu đó là bạn, hãy đăng nhập.")
    if invitation.revoked_at is not None:
        raise LinkInvalid("Lời mời này đã bị thu hồi. Hãy liên hệ quản trị viên của cơ quan nếu cần.")
    if invitation.expires_at <= utcnow():
        raise LinkInvalid("Lời mời này đã hết hạn. Hãy đề nghị quản trị viên của cơ quan gửi lời mời mới.")
    return invitation


def invited_address_has_account(invitation: Invitation) -> bool:
    """Whether the invited e-mail already belongs to an account (which should log in to accept)."""
    return _user_with_email(invitation.email) is not None


def accept_invitation(secret: str, payload: Mapping[str, Any], *, user: User | None = None) -> User:
    """Accept an invitation: the link's secret is the authorization.

    With ``user`` (an account already logged in), that account joins the agency;
    a role it already has is kept if higher. Without, a new account is created for
    the invited address from ``payload`` (name, fullname, password, password_confirm).
    Returns the member. Raises NotFound, LinkInvalid, ValidationFailed, Conflict, Forbidden.
    """
    invitation = get_invitation(secret)
    if user is None:
        data = _load(AcceptInvitationSchema(), payload)
        if db.session.scalar(select(User.id).where(User.name == data["name"])):
            raise ValidationFailed(fields={"name": ["Tên đăng nhập đã tồn tại, hãy chọn tên khác."]})
        if invited_address_has_account(invitation):
            raise Conflict(f"Địa chỉ {invitation.email} đã có tài khoản. Hãy đăng nhập rồi mở lại liên kết mời.")
        user = User(name=data["name"], fullname=data.get("fullname"), email=invitation.email,
                    password_hash=_hasher.hash(data["password"]))
        db.session.add(user)
        db.session.flush()
        record(user, "user:create", user, after=UserSchema().dump(user))
    elif user.is_system or not user.active:
        raise Forbidden()
    elif (user.email or "").casefold() != invitation.email.casefold():
        # The link is the authorization, and links get forwarded: it is only for the invited address.
        raise Conflict(f"Lời mời này gửi cho {invitation.email}. Hãy đăng nhập bằng tài khoản của địa chỉ đó.")
    role = Role(invitation.role)
    membership = _membership(invitation.agency, user)
    before = {"role": membership.role} if membership else None
    if membership is None:
        membership = Membership(user=user, agency=invitation.agency, role=role)
        db.session.add(membership)
    elif _ROLE_RANK[role] > _ROLE_RANK[Role(membership.role)]:
        membership.role = role
    invitation.accepted_at = utcnow()
    invitation.user_id = user.id
    db.session.flush()
    record(user, "invitation:accept", invitation, agency_id=invitation.agency_id,
           after={**_invitation_facts(invitation), "user": user.name})
    if before is None or before["role"] != membership.role:
        record(user, "membership:update" if before else "membership:create", membership,
               agency_id=invitation.agency_id, before=before, after=_member_facts(membership))
    db.session.commit()
    log.info("invitation %s accepted by user %s", invitation.id, user.id)
    return user


# --- API tokens ----------------------------------------------------------------------------

def create_token(actor: User, user: User, name: str, *, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create an API token for ``user``; returns the row and the secret, shown only once.

    Users create their own tokens; sysadmins may create one for anyone. Raises Forbidden.
    """
    authz.require(actor, Action.TOKEN_CREATE, user)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name.strip()[:255] or "API", token_hash=_hash_token(secret),
                     expires_at=expires_at)
    db.session.add(token)
    db.session.flush()
    record(actor, "token:create", token, after={"user": user.name, "name": token.name})
    db.session.commit()
    return token, secret


def issue_token(actor: User, user: User, payload: Mapping[str, Any]) -> tuple[ApiToken, str]:
    """``create_token`` from a form: a name and an optional last day of validity (``expires_on``).

    Raises Forbidden, ValidationFailed.
    """
    authz.require(actor, Action.TOKEN_CREATE, user)
    data = _load(TokenSchema(), payload)
    expires_at = None
    if data["expires_on"] is not None:
        if data["expires_on"] < utcnow().date():
            raise ValidationFailed(fields={"expires_on": ["Ngày hết hạn phải từ hôm nay trở đi."]})
        if data["expires_on"].year > 9000:
            raise ValidationFailed(fields={"expires_on": ["Ngày hết hạn quá xa."]})
        # Valid through that whole day.
        expires_at = datetime.combine(data["expires_on"], datetime.min.time()) + timedelta(days=1)
    return create_token(actor, user, data["name"], expires_at=expires_at)


def list_tokens(user: User) -> list[ApiToken]:
    """The user's tokens that have not been revoked (expired ones included), newest first."""
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                                   .order_by(ApiToken.created_at.desc())))


def get_token(user: User, token_id: str) -> ApiToken:
    """One of the user's tokens. Raises NotFound."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("Không tìm thấy khóa API này.")
    return token


def revoke_token(actor: User, token: ApiToken) -> ApiToken:
    """Stop a token from working, for good. Its owner and sysadmins; raises Forbidden."""
    authz.require(actor, Action.TOKEN_CREATE, token.user)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record(actor, "token:revoke", token, after={"user": token.user.name, "name": token.name})
        db.session.commit()
    return token


def user_for_token(secret: str) -> User | None:
    """The user a valid (unrevoked, unexpired) token belongs to, else None; notes when it was used."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(secret)))
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if not token.user.active or token.user.is_system:
        return None
    # At most one write a minute per token, whatever the request rate.
    if token.last_used_at is None or token.last_used_at < now - timedelta(minutes=1):
        db.session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
        db.session.commit()
    return token.user


# --- password reset ------------------------------------------------------------------------

def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="opendata.password-reset")


def _password_fingerprint(user: User) -> str:
    # Changes whenever the password does (argon2 salts every hash), so a used link stops working.
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:32]


def request_password_reset(email: str) -> None:
    """E-mail a reset link to the account with this address, if there is one.

    Anyone may call it; it behaves the same whether or not the address exists, and
    never raises for a mail failure (logged instead), so it reveals no account.
    """
    user = _user_with_email(email) if email and email.strip() else None
    if user is None or user.is_system or not user.active:
        log.info("password reset requested for an address without an active account")
        return
    token = _reset_serializer().dumps({"user": user.id, "password": _password_fingerprint(user)})
    body = (f"Xin chào {user.display_name},\n\n"
            f"Có yêu cầu đặt lại mật khẩu cho tài khoản {user.name} trên {current_app.config['SITE_TITLE']}.\n\n"
            f"Mở liên kết sau để chọn mật khẩu mới (hiệu lực 1 giờ, dùng được một lần):\n"
            f"{_link('/user/reset/' + token)}\n\n"
            "Nếu bạn không yêu cầu, hãy bỏ qua thư này; mật khẩu của bạn không thay đổi.\n")
    try:
        mail.send(user.email, "Đặt lại mật khẩu", body)
    except mail.MailFailed:
        pass  # already logged; the answer must not differ
    log.info("password reset link sent to user %s", user.id)


def user_for_reset(token: str) -> User:
    """The account a reset link is for, while it is valid. Raises LinkInvalid."""
    try:
        data = _reset_serializer().loads(token, max_age=RESET_MAX_AGE)
    except SignatureExpired as error:
        raise LinkInvalid("Liên kết đặt lại mật khẩu đã hết hạn (hiệu lực 1 giờ). Hãy yêu cầu liên kết mới.") from error
    except BadSignature as error:
        raise LinkInvalid("Liên kết đặt lại mật khẩu không hợp lệ. Hãy kiểm tra lại địa chỉ trong thư.") from error
    user = db.session.get(User, data.get("user")) if isinstance(data, dict) else None
    if user is None or user.is_system or not user.active or data.get("password") != _password_fingerprint(user):
        raise LinkInvalid("Liên kết đặt lại mật khẩu đã được dùng hoặc mật khẩu đã được đổi. Hãy yêu cầu liên kết mới.")
    return user


def reset_password(token: str, new_password: str, *, confirm: str | None = None) -> User:
    """Set a new password through a reset link, which then stops working.

    Also forgets the account's failed logins. Raises LinkInvalid, ValidationFailed.
    """
    user = user_for_reset(token)
    data = _load(NewPasswordSchema(), {"password": new_password or "", "password_confirm": confirm})
    user.password_hash = _hasher.hash(data["password"])
    throttle.clear(user.name)
    record(user, "user:password_reset", user)
    db.session.commit()
    log.info("password of user %s reset", user.id)
    return user
