"""The audit trail is append-only: the application adds AuditEvent rows and never changes or
removes one. Enforced twice:

- here, in the ORM: a flush that would UPDATE or DELETE an AuditEvent, and any UPDATE or
  DELETE statement on audit_events run through a Session (bulk `update()` / `delete()`,
  `text(...)`), raise AuditTrailIsAppendOnly before reaching the database;
- in the database (migration 0006): triggers on SQLite and PostgreSQL refuse UPDATE and DELETE
  of audit_events, whoever connects (a SQL shell, another program); on PostgreSQL a statement
  trigger refuses TRUNCATE too (migration 0008; SQLite has no TRUNCATE). The table's owner can
  still disable a trigger (ALTER TABLE ... DISABLE TRIGGER): the guard stops the application and
  mistakes, not the database's owner.
"""
from __future__ import annotations

import re

from sqlalchemy import TextClause, event
from sqlalchemy.orm import Session

from core.store.models import AuditEvent

TABLE = AuditEvent.__tablename__
_WRITE_TO_AUDIT = re.compile(rf"^\s*(update|delete\s+from)\s+\"?{TABLE}\"?\b", re.IGNORECASE)


class AuditTrailIsAppendOnly(PermissionError):
    """Something tried to change or remove an audit row."""


MESSAGE = "The audit trail is append-only: audit events are never changed or deleted."


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(_mapper, _connection, _target) -> None:
    raise AuditTrailIsAppendOnly(MESSAGE)


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(_mapper, _connection, _target) -> None:
    raise AuditTrailIsAppendOnly(MESSAGE)


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_change(state) -> None:
    if state.is_update or state.is_delete:
        tables = {getattr(t, "name", None) for t in state.statement.get_final_froms()} if hasattr(
            state.statement, "get_final_froms") else set()
        table = getattr(getattr(state.statement, "table", None), "name", None)
        if table == TABLE or TABLE in tables:
            raise AuditTrailIsAppendOnly(MESSAGE)
    elif isinstance(state.statement, TextClause) and _WRITE_TO_AUDIT.match(state.statement.text):
        raise AuditTrailIsAppendOnly(MESSAGE)


# The migration's triggers, kept here beside the ORM guard so that both say the same.
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    f"CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS audit_events_no_update", "DROP TRIGGER IF EXISTS audit_events_no_delete"]
POSTGRES_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION pdlens_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$",
    f"CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION pdlens_audit_append_only()",
]
POSTGRES_DROP = [f"DROP TRIGGER IF EXISTS audit_events_append_only ON {TABLE}",
                 "DROP FUNCTION IF EXISTS pdlens_audit_append_only()"]
# Migration 0008: TRUNCATE fires no row trigger, so it gets a statement trigger of its own (same
# function, same refusal). PostgreSQL only.
POSTGRES_TRUNCATE_TRIGGER = "audit_events_no_truncate"
POSTGRES_TRUNCATE_GUARD = [
    f"CREATE TRIGGER {POSTGRES_TRUNCATE_TRIGGER} BEFORE TRUNCATE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION pdlens_audit_append_only()",
]
POSTGRES_TRUNCATE_DROP = [f"DROP TRIGGER IF EXISTS {POSTGRES_TRUNCATE_TRIGGER} ON {TABLE}"]
