"""Every role × every action × every dataset state, through the HTML views, against one table.

Each cell is what the server answers: 200 (page shown), 303 (done, redirected),
403 (forbidden), 404 (hidden: the dataset does not exist for this user), 409 (not
allowed in this state: the edit page again, with the reason) or ``login`` (sent to
the login page). Every cell starts from a fresh dataset of agency A in that state.
"""

from __future__ import annotations

import io

import pytest

from opendata.catalog.models import DatasetState, utcnow
from opendata.extensions import db
from tests.authz.conftest import ROLES
from tests.factories import make_dataset
from tests.forms import sign_in

STATES = ("draft", "pending", "published", "withdrawn", "deleted")

#                         draft    pending  published withdrawn deleted
TABLE = """
view      anonymous       404      404      200       404       404
view      user            404      404      200       404       404
view      member_a        200      200      200       200       404
view      editor_a        200      200      200       200       404
view      admin_a         200      200      200       200       200
view      editor_b        404      404      200       404       404
view      sysadmin        200      200      200       200       200
edit      anonymous       login    login    login     login     login
edit      user            404      404      403       404       404
edit      member_a        403      403      403       403       404
edit      editor_a        303      303      303       303       404
edit      admin_a         303      303      303       303       403
edit      editor_b        404      404      403       404       404
edit      sysadmin        303      303      303       303       303
upload    anonymous       login    login    login     login     login
upload    user            404      404      403       404       404
upload    member_a        403      403      403       403       404
upload    editor_a        303      303      303       303       404
upload    admin_a         303      303      303       303       403
upload    editor_b        404      404      403       404       404
upload    sysadmin        303      303      303       303       303
submit    anonymous       login    login    login     login     login
submit    user            404      404      403       404       404
submit    member_a        403      403      403       403       404
submit    editor_a        303      409      409       303       404
submit    admin_a         303      409      409       303       403
submit    editor_b        404      404      403       404       404
submit    sysadmin        303      409      409       303       409
approve   anonymous       login    login    login     login     login
approve   user            404      404      403       404       404
approve   member_a        403      403      403       403       404
approve   editor_a        403      403      403       403       404
approve   admin_a         409      303      409       409       403
approve   editor_b        404      404      403       404       404
approve   sysadmin        409      303      409       409       409
publish   anonymous       login    login    login     login     login
publish   user            404      404      403       404       404
publish   member_a        403      403      403       403       404
publish   editor_a        403      403      403       403       404
publish   admin_a         303      303      303       303       403
publish   editor_b        404      404      403       404       404
publish   sysadmin        303      303      303       303       409
withdraw  anonymous       login    login    login     login     login
withdraw  user            404      404      403       404       404
withdraw  member_a        403      403      403       403       404
withdraw  editor_a        403      403      403       403       404
withdraw  admin_a         409      409      303       409       403
withdraw  editor_b        404      404      403       404       404
withdraw  sysadmin        409      409      303       409       409
delete    anonymous       login    login    login     login     login
delete    user            404      404      403       404       404
delete    member_a        403      403      403       403       404
delete    editor_a        403      403      403       403       404
delete    admin_a         303      303      303       303       403
delete    editor_b        404      404      403       404       404
delete    sysadmin        303      303      303       303       409
restore   anonymous       login    login    login     login     login
restore   user            404      404      403       404       404
restore   member_a        403      403      403       403       404
restore   editor_a        403      403      403       403       404
restore   admin_a         409      409      409       303       303
restore   editor_b        404      404      403       404       404
restore   sysadmin        409      409      409       303       303
purge     anonymous       login    login    login     login     login
purge     user            404      404      403       404       404
purge     member_a        403      403      403       403       404
purge     editor_a        403      403      403       403       404
purge     admin_a         403      403      403       403       403
purge     editor_b        404      404      403       404       404
purge     sysadmin        409      409      409       409       303
"""


def _parse(table: str) -> dict[tuple[str, str], dict[str, str]]:
    cells = {}
    for line in table.strip().splitlines():
        action, role, *outcomes = line.split()
        cells[(action, role)] = dict(zip(STATES, outcomes, strict=True))
    return cells


EXPECTED = _parse(TABLE)


def _dataset_in(system, agency, state: str):
    dataset = make_dataset(system, agency, published=False)
    if state == "deleted":
        dataset.state, dataset.deleted_at = DatasetState.PUBLISHED, utcnow()
    else:
        dataset.state = DatasetState(state)
        if state == "published":
            dataset.published_at = utcnow()
    db.session.commit()
    return dataset


def _request(client, action: str, name: str):
    if action == "view":
        return client.get(f"/dataset/{name}")
    if action == "edit":
        return client.post(f"/dataset/edit/{name}", data={
            "title": "Tên đã sửa", "notes": "Mô tả đã sửa.", "agency": client.agency_name,
            "license_id": "cc-by", "access_level": "open", "importance": "other"})
    if action == "upload":
        return client.post(f"/dataset/{name}/resource/new", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n"), "bao-cao.pdf")})
    return client.post(f"/dataset/{name}/workflow/{action}")


def _outcome(response) -> str:
    if response.status_code == 302 and "/user/login" in response.headers.get("Location", ""):
        return "login"
    return str(response.status_code)


@pytest.mark.parametrize("action", ("view", "edit", "upload", "submit", "approve", "publish", "withdraw",
                                    "delete", "restore", "purge"))
def test_role_action_state(app, client, system, cast, action):
    # CSRF is tested on its own (tests/web); here every cell is about permissions and states.
    app.config["WTF_CSRF_ENABLED"] = False
    agency, users = cast
    client.agency_name = agency.name
    answers = {}
    for role in ROLES:
        with client.session_transaction() as session:
            session.clear()
        if users[role] is not None:
            sign_in(client, users[role])
        answers[role] = {state: _outcome(_request(client, action, _dataset_in(system, agency, state).name))
                         for state in STATES}
    assert answers == {role: EXPECTED[(action, role)] for role in ROLES}


# Managing members is about the agency, whatever its datasets' states: the members page
# and inviting someone through it.
MEMBERS = {"anonymous": ("login", "login"), "user": ("403", "403"), "member_a": ("403", "403"),
           "editor_a": ("403", "403"), "admin_a": ("200", "302"), "editor_b": ("403", "403"),
           "sysadmin": ("200", "302")}


def test_manage_members(app, client, cast):
    app.config["WTF_CSRF_ENABLED"] = False
    agency, users = cast
    answers = {}
    for index, role in enumerate(ROLES):
        with client.session_transaction() as session:
            session.clear()
        if users[role] is not None:
            sign_in(client, users[role])
        page = client.get(f"/organization/{agency.name}/members")
        invite = client.post(f"/organization/{agency.name}/members/invite",
                             data={"email": f"moi{index}@example.org", "role": "editor"})
        answers[role] = (_outcome(page), _outcome(invite))
    assert answers == MEMBERS


# The same table through the REST API: a token instead of a session, JSON instead of forms.
# Success is 200, 201 or 204 instead of a page or a redirect; "log in first" is 401.
API_OUTCOME = {"200": "ok", "303": "ok", "login": "401"}


def _api_request(client, action: str, name: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if action == "view":
        return client.get(f"/api/v1/datasets/{name}", headers=headers)
    if action == "edit":
        return client.patch(f"/api/v1/datasets/{name}", json={"title": "Tên đã sửa"}, headers=headers)
    if action == "upload":
        return client.post(f"/api/v1/datasets/{name}/resources?filename=bao-cao.pdf", headers=headers,
                           data=b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n", content_type="application/octet-stream")
    return client.post(f"/api/v1/datasets/{name}/{action}", json={}, headers=headers)


@pytest.mark.parametrize("action", ("view", "edit", "upload", "submit", "approve", "publish", "withdraw",
                                    "delete", "restore", "purge"))
def test_role_action_state_through_the_rest_api(client, system, cast, action):
    from opendata.accounts.services import create_token

    agency, users = cast
    tokens = {role: create_token(user, user, "bảng quyền")[1] if user else None for role, user in users.items()}
    answers, expected = {}, {}
    for role in ROLES:
        answers[role] = {}
        for state in STATES:
            response = _api_request(client, action, _dataset_in(system, agency, state).name, tokens[role])
            answers[role][state] = "ok" if response.status_code in (200, 201, 204) else str(response.status_code)
        expected[role] = {state: API_OUTCOME.get(cell, cell) for state, cell in EXPECTED[(action, role)].items()}
    assert answers == expected
