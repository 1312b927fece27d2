"""Accounts: users, their memberships of agencies, and API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opendata.catalog.models import Agency, new_id, utcnow
from opendata.extensions import db


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    MEMBER = "member"


class User(UserMixin, db.Model):
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    fullname: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_sysadmin: Mapped[bool] = mapped_column(default=False)
    # The system actor (sample loader, maintenance commands) cannot log in.
    is_system: Mapped[bool] = mapped_column(default=False)
    # A sysadmin can block an account without deleting its history.
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def display_name(self) -> str:
        return self.fullname or self.name

    @property
    def is_active(self) -> bool:  # Flask-Login refuses sessions of blocked users
        return self.active


class Membership(db.Model):
    __table_args__ = (UniqueConstraint("user_id", "agency_id", name="uq_membership_user_agency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    agency: Mapped[Agency] = relationship()


class ApiToken(db.Model):
    """An API token; only the SHA-256 of the secret is stored."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()


class Invitation(db.Model):
    """An invitation to join an agency; only the SHA-256 of the link's token is stored."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(255), index=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    invited_by_id: Mapped[str | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    user_id: Mapped[str | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    agency: Mapped[Agency] = relationship()
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])


class LoginAttempt(db.Model):
    """A failed login, kept for throttling per account and per address across all workers."""

    __table_args__ = (Index("ix_login_attempt_account", "account", "created_at"),
                      Index("ix_login_attempt_address", "address", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(255))  # the name or e-mail typed, case-folded
    address: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
