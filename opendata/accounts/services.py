"""Account services: users, agency memberships and API tokens.

Like every service, these take the acting user explicitly. The system actor
(``system_actor()``) stands for the portal itself (sample loader, maintenance
commands); it is a sysadmin that cannot log in, never a skip-auth flag.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from marshmallow import ValidationError
from sqlalchemy import select

from opendata import authz
from opendata.accounts.models import ApiToken, Membership, Role, User
from opendata.accounts.schemas import MembershipSchema, UserSchema
from opendata.activity.recorder import record
from opendata.authz import Action
from opendata.catalog.models import Agency, utcnow
from opendata.errors import NotFound, ValidationFailed
from opendata.extensions import db

log = logging.getLogger(__name__)
SYSTEM_USER = "system"
TOKEN_PREFIX = "odl_"
# Argon2id: memory-hard, as recommended for password storage.
_hasher = PasswordHasher()


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


def create_user(actor: User, payload: Mapping[str, Any]) -> User:
    """Create an account. Sysadmins only (publishers do not self-register).

    Raises Forbidden, ValidationFailed.
    """
    authz.require(actor, Action.USER_CREATE)
    try:
        data = UserSchema().load(dict(payload))
    except ValidationError as error:
        raise ValidationFailed(fields=error.messages) from error
    errors: dict[str, list[str]] = {}
    if db.session.scalar(select(User.id).where(User.name == data["name"])):
        errors["name"] = ["Tên đăng nhập đã tồn tại."]
    if db.session.scalar(select(User.id).where(User.email == data["email"])):
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


def check_password(user: User, password: str) -> bool:
    if user.is_system or not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_member(actor: User, agency: Agency, user: User, role: str) -> Membership:
    """Give ``user`` a role in ``agency``, or change the role they have.

    Agency admins and sysadmins. Raises Forbidden, ValidationFailed.
    """
    authz.require(actor, Action.AGENCY_MANAGE_MEMBERS, agency)
    try:
        role = MembershipSchema().load({"role": role})["role"]
    except ValidationError as error:
        raise ValidationFailed(fields=error.messages) from error
    membership = db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.agency_id == agency.id))
    before = {"role": membership.role} if membership else None
    if membership is None:
        membership = Membership(user=user, agency=agency, role=role)
        db.session.add(membership)
    membership.role = Role(role)
    db.session.flush()
    record(actor, "membership:update" if before else "membership:create", membership, agency_id=agency.id,
           before=before, after={"user": user.name, "agency": agency.name, "role": membership.role})
    db.session.commit()
    return membership


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(actor: User, user: User, name: str, *, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create an API token for ``user``; returns the row and the secret, shown only once.

    Users create their own tokens; sysadmins may create one for anyone. Raises Forbidden.
    """
    authz.require(actor, Action.TOKEN_CREATE, user)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name.strip() or "API", token_hash=_hash_token(secret), expires_at=expires_at)
    db.session.add(token)
    db.session.flush()
    record(actor, "token:create", token, after={"user": user.name, "name": token.name})
    db.session.commit()
    return token, secret


def user_for_token(secret: str) -> User | None:
    """The user a valid (unrevoked, unexpired) token belongs to, else None."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(secret)))
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= utcnow():
        return None
    return token.user
