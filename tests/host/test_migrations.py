"""Migrations: a blank vault and every shipped schema reach the same current schema."""

from __future__ import annotations

import duckdb
from satchel.vault.migrations import MIGRATIONS, applied, migrate

EXPECTED_TABLES = {"conversations", "messages", "message_versions", "chunks", "embeddings", "sessions", "memories",
                   "memory_sources", "settings", "schema_migrations"}


def schema(db: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    rows = db.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                      "ORDER BY table_name, ordinal_position").fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        tables.setdefault(table, []).append((column, kind))
    return tables


def test_blank_vault_gets_every_migration(tmp_path):
    db = duckdb.connect(str(tmp_path / "v.duckdb"))
    assert migrate(db) == [name for name, _ in MIGRATIONS]
    assert set(schema(db)) == EXPECTED_TABLES
    assert migrate(db) == []  # idempotent


def test_every_shipped_schema_upgrades_to_the_current_one(tmp_path):
    fresh = duckdb.connect(str(tmp_path / "fresh.duckdb"))
    migrate(fresh)
    for shipped in range(1, len(MIGRATIONS) + 1):
        old = duckdb.connect(str(tmp_path / f"old{shipped}.duckdb"))
        applied(old)
        for name, fn in MIGRATIONS[:shipped]:
            fn(old)
            old.execute("INSERT INTO schema_migrations VALUES (?, now())", [name])
        migrate(old)
        assert schema(old) == schema(fresh)


def test_migration_names_are_ordered_and_unique():
    names = [name for name, _ in MIGRATIONS]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(name[:1] == "m" and name[1:4].isdigit() for name in names)
