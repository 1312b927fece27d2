"""Marshmallow schemas of accounts: users, memberships, invitations, passwords and API tokens."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from opendata.accounts.models import Role
from opendata.catalog.schemas import MESSAGES, Email, Text


USER_NAME = [
    validate.Length(min=2, max=100, error="Từ {min} đến {max} ký tự."),
    validate.Regexp(r"^[a-z0-9][a-z0-9_.-]*$", error="Chỉ gồm chữ thường không dấu, số, '.', '_' và '-'."),
]
FULLNAME = validate.Length(max=255, error="Tối đa {max} ký tự.")
PASSWORD = validate.Length(min=10, max=256, error="Mật khẩu cần từ {min} đến {max} ký tự.")
ROLE = validate.OneOf([role.value for role in Role], error="Vai trò phải là một trong: {choices}.")


class UserSchema(Schema):
    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "Trường không được hỗ trợ."}

    id = fields.String(dump_only=True)
    name = Text(required=True, error_messages=MESSAGES, validate=USER_NAME)
    email = Email(required=True, error_messages=MESSAGES)
    fullname = Text(allow_none=True, validate=FULLNAME)
    password = fields.String(load_only=True, required=True, error_messages=MESSAGES, validate=PASSWORD)
    is_sysadmin = fields.Boolean(load_default=False)
    created_at = fields.DateTime(dump_only=True)


class MembershipSchema(Schema):
    class Meta:
        unknown = RAISE

    role = Text(required=True, error_messages=MESSAGES, validate=ROLE)


class InvitationSchema(Schema):
    """An agency admin's invitation: who, and with which role."""

    class Meta:
        unknown = RAISE

    email = Email(required=True, error_messages=MESSAGES)
    role = Text(required=True, error_messages=MESSAGES, validate=ROLE)


class NewPasswordSchema(Schema):
    """A password chosen twice, as the reset and invitation forms ask for it."""

    class Meta:
        unknown = RAISE

    password = fields.String(load_only=True, required=True, error_messages=MESSAGES, validate=PASSWORD)
    password_confirm = fields.String(load_only=True, load_default=None, allow_none=True)

    @validates_schema
    def _same_twice(self, data, **kwargs):
        # Forms send the confirmation; the CLI and APIs may leave it out.
        if data.get("password_confirm") is not None and data["password_confirm"] != data.get("password"):
            raise ValidationError("Hai lần nhập mật khẩu không khớp.", field_name="password_confirm")


class AcceptInvitationSchema(NewPasswordSchema):
    """What a new user chooses when accepting an invitation; the e-mail comes from the invitation."""

    name = Text(required=True, error_messages=MESSAGES, validate=USER_NAME)
    fullname = Text(allow_none=True, validate=FULLNAME)


class TokenSchema(Schema):
    """An API token as the account page creates it: a label and an optional last day of validity."""

    class Meta:
        unknown = RAISE

    name = Text(required=True, error_messages=MESSAGES,
                validate=validate.Length(max=255, error="Tối đa {max} ký tự."))
    expires_on = fields.Date(load_default=None, allow_none=True,
                             error_messages={"invalid": "Ngày không hợp lệ (dạng YYYY-MM-DD)."})

    @pre_load
    def _blank_date_is_none(self, data, **kwargs):
        if isinstance(data, dict) and data.get("expires_on") == "":
            data = {**data, "expires_on": None}
        return data
