"""REST v1: the account the API token belongs to, and its tokens."""

from __future__ import annotations

from flask import Blueprint, url_for

from opendata.accounts import services as accounts
from opendata.accounts.schemas import TokenSchema
from opendata.api.v1.http import authenticated, created, json_body, no_content, operation, reply
from opendata.api.v1.representations import ApiTokenList, Me, NewApiToken, me_out, token_out

bp = Blueprint("me", __name__)


@bp.get("/me")
@operation("Tài khoản của khóa API. The token's account", tag="me", response=Me, errors=(401,), auth="required")
def me():
    return reply(me_out(authenticated()))


@bp.get("/me/tokens")
@operation("Các khóa API còn hiệu lực. Your API tokens", tag="me", response=ApiTokenList, errors=(401,),
           auth="required")
def token_list():
    return reply({"items": [token_out(token) for token in accounts.list_tokens(authenticated())]})


@bp.post("/me/tokens")
@operation("Tạo khóa API; mã bí mật chỉ hiện một lần. Create a token; the secret is shown once", tag="me",
           body=TokenSchema, response=NewApiToken, status=201, errors=(400, 401, 403, 413, 415, 422), auth="required")
def token_create():
    actor = authenticated()
    token, secret = accounts.issue_token(actor, actor, json_body())
    response = created(token_out(token, secret), url_for("rest.me.token_list", _external=True))
    response.headers["Cache-Control"] = "no-store"  # the secret must not be kept by any cache
    return response


@bp.delete("/me/tokens/<token_id>")
@operation("Thu hồi khóa API. Revoke a token", tag="me", status=204, errors=(401, 403, 404), auth="required",
           path_params={"token_id": "Id của khóa. Token id."})
def token_revoke(token_id: str):
    actor = authenticated()
    accounts.revoke_token(actor, accounts.get_token(actor, token_id))
    return no_content()
