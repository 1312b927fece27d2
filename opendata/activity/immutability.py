"""Activities are never edited or deleted: the database itself refuses it.

Triggers reject UPDATE and DELETE on the activity table on both backends, so not
even a bug or a hand-written SQL statement can rewrite the audit trail. The ORM
guard below fails earlier, with a clearer message, inside the application.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from opendata.activity.models import Activity

MESSAGE = "activities are append-only"

_SQLITE = [
    f"CREATE TRIGGER activity_no_update BEFORE UPDATE ON activity BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    f"CREATE TRIGGER activity_no_delete BEFORE DELETE ON activity BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]
_POSTGRES = [
    "CREATE FUNCTION activity_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$",
    "CREATE TRIGGER activity_no_change BEFORE UPDATE OR DELETE ON activity "
    "FOR EACH ROW EXECUTE FUNCTION activity_append_only()",
]


def install_triggers(connection: Connection) -> None:
    statements = _POSTGRES if connection.dialect.name == "postgresql" else _SQLITE
    for statement in statements:
        connection.exec_driver_sql(statement)


def drop_triggers(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS activity_no_change ON activity")
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS activity_append_only()")
    else:
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS activity_no_update")
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS activity_no_delete")


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, _context, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, Activity) and (obj in session.deleted or session.is_modified(obj)):
            raise PermissionError(MESSAGE)
