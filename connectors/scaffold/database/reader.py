"""`read_database()`: a database URL becomes a GeneratedPackage on the SQL connector base.

One group (a models module and an actions mixin) per table or view: a READ action that pages by
primary key (keyset; views and keyless tables page by offset, said in the README), and, only for
tables matched by `--writes`, an insert and an update marked WRITE. The URL's password is never
written anywhere: the package's URL setting is a secret whose default is the URL without it.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Literal

from sqlalchemy import Connection

from connectors.scaffold.database.actions import insert_action, list_action, merged_imports, update_action
from connectors.scaffold.database.connect import parse_url, read_only, secrets_in, without_password
from connectors.scaffold.database.models import Paging, TablePlan, model_module
from connectors.scaffold.database.naming import TableNames
from connectors.scaffold.database.naming import table_names as names_for
from connectors.scaffold.database.schema import (
    SAMPLE_ROWS,
    TableShape,
    own_table_reason,
    shape_of,
    table_names,
)
from connectors.scaffold.errors import SourceError
from connectors.scaffold.naming import Namespace
from connectors.scaffold.package import (
    ConnectorSpec,
    GeneratedAction,
    GeneratedPackage,
    ImportRef,
    SettingField,
    Skipped,
    SourceInfo,
)
from connectors.scaffold.selection import Selection
from connectors.scaffold.writer import package_name

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def read_database(name: str, url: str, tables: Selection, writes: Selection) -> GeneratedPackage:
    """Reflect the database at `url` (read-only) into a connector package named `name`.

    `tables` selects tables and views (globs; everything when empty); `writes` selects the tables
    that get insert and update actions (none when empty: writes only when asked).
    """
    if not _NAME.match(name):
        raise SourceError(f"the connector name {name!r} must be lower case letters, digits and _")
    parsed = parse_url(url)
    secrets = secrets_in(parsed)
    skipped: list[Skipped] = []
    shapes: list[TableShape] = []
    with read_only(parsed, secrets) as conn:
        found_tables, found_views = table_names(conn)
        everything = [*found_tables, *found_views]
        kinds: tuple[tuple[Literal["table", "view"], list[str]], ...] = (
            ("table", found_tables),
            ("view", found_views),
        )
        for kind, names in kinds:
            for table in names:
                if not tables.matches(table):
                    continue
                reason = own_table_reason(table)
                if reason:
                    skipped.append(Skipped(f"{kind} {table}", reason))
                    continue
                shape = _shape(conn, table, kind)
                if isinstance(shape, Skipped):
                    skipped.append(shape)
                elif not shape.readable:
                    skipped.append(Skipped(f"{kind} {table}", "no column has a Python type"))
                else:
                    shapes.append(shape)
        dialect = conn.dialect.name
        version = ".".join(str(p) for p in conn.dialect.server_version_info or ())
    review: list[str] = []
    unmatched = tables.unmatched_notes("--tables", everything, "table or view")
    unmatched += writes.unmatched_notes("--writes", everything, "table")
    if not shapes:
        where = "matches --tables" if not tables.everything else "can be generated"
        raise SourceError(f"no table or view in the database {where}")

    groups_ns, actions_ns = Namespace(), Namespace()
    model_modules: dict[str, str] = {}
    groups: dict[str, list[GeneratedAction]] = {}
    writing = False
    for shape in shapes:
        plan = _plan(shape, names_for(shape, groups_ns, actions_ns), writes, skipped)
        model_modules[plan.names.group] = model_module(plan)
        actions = [list_action(plan, package_name(name))]
        if plan.insert:
            actions.append(insert_action(plan))
        if plan.update:
            actions.append(update_action(plan))
        groups[plan.names.group] = merged_imports(actions, package_name(name))
        writing = writing or plan.insert

    location = without_password(url)
    database = parsed.database or "(default)"
    counts = f"{sum(s.kind == 'table' for s in shapes)} tables, {sum(s.kind == 'view' for s in shapes)} views"
    title = f"{_DIALECTS.get(dialect, dialect)} database {database.rsplit('/', 1)[-1]} ({counts})"
    review += _package_notes(name, dialect, bool(secrets), writing)
    return GeneratedPackage(
        connector=ConnectorSpec(
            name=name,
            title=title,
            base=ImportRef("connectors.sql", "SqlConnector"),
            settings_base=ImportRef("connectors.sql", "SqlSettings"),
            settings=(
                SettingField(
                    "url",
                    "SecretStr",
                    f"SecretStr({location!r})",
                    "the database URL, password included (a secret: never printed or captured)",
                    secret=True,
                ),
            ),
            members=_tables_member(shapes),
        ),
        source=SourceInfo(
            "database", location, _digest(dialect, shapes), _DIALECTS.get(dialect, dialect), version
        ),
        model_modules=model_modules,
        groups=groups,
        skipped=skipped,
        review=review,
        unmatched=unmatched,
    )


_DIALECTS = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MySQL", "mssql": "SQL Server"}


def _shape(conn: Connection, table: str, kind: Literal["table", "view"]) -> TableShape | Skipped:
    try:
        return shape_of(conn, table, kind)
    except Exception as exc:  # one odd table must not stop the others
        conn.rollback()
        return Skipped(f"{kind} {table}", f"cannot be read: {type(exc).__name__}")


def _plan(shape: TableShape, names: TableNames, writes: Selection, skipped: list[Skipped]) -> TablePlan:
    keys = [shape.column(c) for c in shape.key]
    keyed = bool(keys) and all(c.type is not None and not c.binary and not c.null_key for c in keys)
    paging: Paging = "keyset" if shape.kind == "table" and keyed else "offset"
    insert = update = False
    if not writes.everything and writes.matches(shape.name):
        ref = f"writes to {shape.kind} {shape.name}"
        if shape.kind == "view":
            skipped.append(Skipped(ref, "a view: no insert or update generated"))
        elif not keyed:
            skipped.append(Skipped(ref, "no usable primary key to find the written row by"))
        else:
            insert = True
            update = any(not c.primary_key for c in shape.readable)
            if not update:
                skipped.append(Skipped(f"update of table {shape.name}", "every column is in the primary key"))
    return TablePlan(shape, names, paging, insert, update)


def _tables_member(shapes: list[TableShape]) -> tuple[str, ...]:
    return (
        "#: Tables and views the actions use, reflected on first use.",
        "tables: ClassVar[tuple[str, ...]] = (",
        *(f"    {s.name!r}," for s in shapes),
        ")",
    )


def _package_notes(name: str, dialect: str, password: bool, any_writes: bool) -> list[str]:
    env = f"RETROFIT_{name.upper()}_URL"
    notes = [
        f"**Database URL.** `{env}` is a secret setting; its default is the URL you gave"
        + (
            " without its password (the password was not written anywhere): set the full URL there."
            if password
            else "."
        )
    ]
    if dialect == "sqlite":
        notes.append(
            f"**Legacy types.** SQLite stores any value in any column: each column's values were "
            f"sampled (first {SAMPLE_ROWS} rows) and columns holding other kinds than declared are "
            "typed as unions (listed per action below). Rows written later may differ."
        )
    notes.append(
        "**Writes.** "
        + (
            "Insert/update actions were generated for the tables `--writes` selected; "
            "each runs in one transaction with the SQL base's idempotency record (`retrofit_idempotency`, "
            "created in this database on the first write)."
            if any_writes
            else "None: the package is read-only (pass `--writes GLOBS` to generate insert/update actions)."
        )
    )
    return notes


def _digest(dialect: str, shapes: list[TableShape]) -> str:
    described = [
        [s.kind, s.name, list(s.key), [[c.name, c.declared, c.nullable, c.primary_key] for c in s.columns]]
        for s in shapes
    ]
    return hashlib.sha256(json.dumps([dialect, described], sort_keys=True).encode()).hexdigest()
