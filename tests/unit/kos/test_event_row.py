"""The event row has one definition (kos/event.py): the table storage/schema.sql declares holds exactly its columns,
with its widths and nullability, and the ProcessEvent message has a field for each."""

from __future__ import annotations

import re

from kos import event
from tests.support.submit import CHECKED_IN, PROJECT

SQL_KINDS = {"timestamp": "DATETIME(6)", "string": "VARCHAR", "bigint": "BIGINT", "int": "INT"}


def declared_columns(table: str) -> dict[str, tuple[str, bool]]:
    """Column name -> (type, nullable) of ``table`` in schema.sql, from the statement's text."""
    text = (PROJECT / "storage" / "schema.sql").read_text()
    statement = re.search(rf"CREATE TABLE IF NOT EXISTS {table} \((.*?)\n\) ENGINE", text, re.S)
    assert statement, f"no CREATE TABLE {table} in schema.sql"
    body = statement.group(1)
    columns = {}
    for line in body.splitlines():
        m = re.match(r"\s+(\w+)\s+([A-Z]+(?:\([^)]*\))?)\s+(NOT NULL|NULL)", line)
        if m:
            columns[m.group(1)] = (m.group(2), m.group(3) == "NULL")
    return columns


def test_schema_sql_declares_the_event_row():
    declared = declared_columns("process_events")
    stored = {name: kind for name, kind in declared.items() if name not in ("id", "loaded_at")}
    assert list(stored) == list(event.NAMES)
    for column in event.EVENT_COLUMNS:
        kind, nullable = declared[column.name]
        expected = f"VARCHAR({column.width})" if column.width else SQL_KINDS[column.kind]
        if column.name == "action":
            expected = "ENUM('STARTED', 'ACTIVATED')"
        assert (kind, nullable) == (expected, column.nullable), column.name
    unique = re.search(r"UNIQUE KEY origin \(([^)]*)\)", (PROJECT / "storage" / "schema.sql").read_text()).group(1)
    assert tuple(c.strip() for c in unique.split(",")) == event.ORIGIN


def test_every_column_has_its_field_in_the_message():
    from kosproto.descriptors import find_message

    message = find_message(CHECKED_IN.read_bytes(), "kos.v1.ProcessEvent")
    for column in event.EVENT_COLUMNS:
        descriptor = message
        *parents, name = column.field.split(".")
        for parent in parents:
            descriptor = descriptor.fields_by_name[parent].message_type
        assert name in descriptor.fields_by_name, column.field
