"""The cast of the authorization tables: one user per role around agencies A and B."""

from __future__ import annotations

import pytest

from tests.factories import make_agency, make_user

ROLES = ("anonymous", "user", "member_a", "editor_a", "admin_a", "editor_b", "sysadmin")


@pytest.fixture
def cast(system):
    """(agency A, {role: user or None}) with agency B beside A for the outsider editor."""
    agency_a, agency_b = make_agency(system), make_agency(system)
    users = {
        "anonymous": None,
        "user": make_user(system),
        "member_a": make_user(system, agency_a, "member"),
        "editor_a": make_user(system, agency_a, "editor"),
        "admin_a": make_user(system, agency_a, "admin"),
        "editor_b": make_user(system, agency_b, "editor"),
        "sysadmin": make_user(system, is_sysadmin=True),
    }
    return agency_a, users
