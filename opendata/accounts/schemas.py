"""Marshmallow schemas of accounts: users and memberships."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from opendata.accounts.models import Role
from opendata.catalog.schemas import MESSAGES, Email, Text


class UserSchema(Schema):
    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "Trường không được hỗ trợ."}

    id = fields.String(dump_only=True)
    name = Text(required=True, error_messages=MESSAGES, validate=[
        validate.Length(min=2, max=100, error="Từ {min} đến {max} ký tự."),
        validate.Regexp(r"^[a-z0-9][a-z0-9_.-]*$", error="Chỉ gồm chữ thường không dấu, số, '.', '_' và '-'."),
    ])
    email = Email(required=True, error_messages=MESSAGES)
    fullname = Text(allow_none=True, validate=validate.Length(max=255, error="Tối đa {max} ký tự."))
    password = fields.String(load_only=True, required=True, error_messages=MESSAGES,
                             validate=validate.Length(min=10, max=256, error="Mật khẩu cần từ {min} đến {max} ký tự."))
    is_sysadmin = fields.Boolean(load_default=False)
    created_at = fields.DateTime(dump_only=True)


class MembershipSchema(Schema):
    class Meta:
        unknown = RAISE

    role = Text(required=True, error_messages=MESSAGES, validate=validate.OneOf(
        [role.value for role in Role], error="Vai trò phải là một trong: {choices}."))
