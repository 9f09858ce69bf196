"""The bodies of one table's actions: a keyset (or offset) page read, and, when asked, insert and update.

Every statement is SQLAlchemy Core over the table the SQL base reflects (`self.table(...)`), so
identifiers are quoted by SQLAlchemy and values are bound parameters; reads go through
`fetch_rows` (row limit, capture), writes through `self.write` (one transaction, the
idempotency record, rows-affected checks).
"""

from __future__ import annotations

import dataclasses

from connectors.scaffold.database.models import MAX_PAGE, TablePlan
from connectors.scaffold.database.schema import ColumnShape
from connectors.scaffold.effects import InferredEffect
from connectors.scaffold.package import GeneratedAction, ModelRef
from retrofit.sdk.effect import Effect

_READ = InferredEffect(Effect.READ, "a SELECT with keyset pagination and a row limit")
_READ_OFFSET = InferredEffect(Effect.READ, "a SELECT with offset pagination and a row limit")
_INSERT = InferredEffect(Effect.WRITE, "an INSERT (--writes asked for it)")
_UPDATE = InferredEffect(Effect.WRITE, "an UPDATE of one row by primary key (--writes asked for it)")


def _col(column: ColumnShape | str) -> str:
    name = column if isinstance(column, str) else column.name
    return f"table.c[{name!r}]"


def _columns(plan: TablePlan) -> str:
    return ", ".join(_col(c) for c in plan.shape.readable)


def _ref(plan: TablePlan, name: str) -> ModelRef:
    return ModelRef(plan.names.group, name)


def _models(plan: TablePlan, package: str, *names: str) -> str:
    """The body's own model imports (the writer imports only the input and output models)."""
    return f"from {package}.models.{plan.names.group} import {', '.join(sorted(names))}"


def list_action(plan: TablePlan, package: str) -> GeneratedAction:
    shape, names = plan.shape, plan.names
    head = [f"table = await self.table({shape.name!r})"]
    notes: list[str] = []
    if plan.paging == "keyset":
        keys = plan.key_columns
        body = [
            *head,
            f"statement = select({_columns(plan)}).order_by({', '.join(_col(c) for c in keys)})",
            "if req.after is not None:",
            f"    statement = statement.where({_after(plan)})",
            "page = await self.fetch_rows(statement, limit=req.limit)",
            f"rows = [{names.row}.model_validate(dict(row)) for row in page.rows]",
            "last = page.rows[-1] if page.truncated and page.rows else None",
            f"after = {names.key}({_key_from_row(plan)}) if last is not None else None",
            f"return {names.page}(rows=rows, next=after, truncated=page.truncated)",
        ]
        summary = (
            f"List rows of the {shape.kind} {shape.name!r} in primary-key order, at most `limit` "
            f"(up to {MAX_PAGE}) per page; pass the answer's `next` as `after` for the next page."
        )
        effect = _READ
        imports = {"from sqlalchemy import select", _models(plan, package, names.key, names.row)}
        if len(keys) > 1:
            imports.add("from sqlalchemy import and_, or_")
    else:
        body = [
            *head,
            f"columns = ({_columns(plan)},)",
            "statement = select(*columns).order_by(*columns).offset(req.offset)",
            "page = await self.fetch_rows(statement, limit=req.limit)",
            f"rows = [{names.row}.model_validate(dict(row)) for row in page.rows]",
            "next_offset = req.offset + len(page.rows) if page.truncated else None",
            f"return {names.page}(rows=rows, next_offset=next_offset, truncated=page.truncated)",
        ]
        summary = (
            f"List rows of the {shape.kind} {shape.name!r}, ordered by all its columns, at most "
            f"`limit` (up to {MAX_PAGE}) per page; pass the answer's `next_offset` as `offset` for "
            "the next page."
        )
        why = "a view has no primary key" if shape.kind == "view" else "the table has no usable primary key"
        notes.append(
            f"{why}: pages by OFFSET over an ordering of all its columns; rows added or removed "
            "between two pages shift the later pages, and deep offsets are slow on large data"
        )
        effect = _READ_OFFSET
        imports = {"from sqlalchemy import select", _models(plan, package, names.row)}
    notes += [f"column {c.name}: {c.note}" for c in shape.columns if c.note]
    return GeneratedAction(
        method=names.list_action,
        effect=effect,
        summary=summary,
        source_ref=f"{shape.kind} {shape.name}",
        input_model=_ref(plan, names.list_input),
        output_model=_ref(plan, names.page),
        body=tuple(body),
        imports=frozenset(imports),
        notes=tuple(notes),
    )


def _after(plan: TablePlan) -> str:
    """`(a, b) > (after.a, after.b)`, spelt out with AND/OR: row values are not portable."""
    keys = plan.key_columns
    terms = []
    for i, column in enumerate(keys):
        equal = [f"{_col(k)} == req.after.{plan.names.field(k.name)}" for k in keys[:i]]
        greater = f"{_col(column)} > req.after.{plan.names.field(column.name)}"
        terms.append(f"and_({', '.join([*equal, greater])})" if equal else greater)
    return terms[0] if len(terms) == 1 else f"or_({', '.join(terms)})"


def _key_from_row(plan: TablePlan) -> str:
    return ", ".join(f"{plan.names.field(c.name)}=last[{c.name!r}]" for c in plan.key_columns)


def _where_key(plan: TablePlan, source: str) -> str:
    """The primary-key condition, from `req.<field>` (source "req") or `key[i]` (source "key")."""
    parts = []
    for i, column in enumerate(plan.key_columns):
        value = f"req.{plan.names.field(column.name)}" if source == "req" else f"key[{i}]"
        parts.append(f"{_col(column)} == {value}")
    return ", ".join(parts)


def _field_map(plan: TablePlan, columns: tuple[ColumnShape, ...]) -> str:
    inner = ", ".join(f"{plan.names.field(c.name)!r}: {c.name!r}" for c in columns)
    return f"columns = {{{inner}}}"


def insert_action(plan: TablePlan) -> GeneratedAction:
    shape, names = plan.shape, plan.names
    body = [
        _field_map(plan, plan.writable),
        "",
        f"async def apply(tx: SqlTransaction, req: {names.insert}) -> {names.row}:",
        f"    table = await self.table({shape.name!r})",
        "    values = {columns[name]: value for name, value in req.model_dump(exclude_none=True).items()}",
        f"    result = await tx.execute(insert(table).values(values), expect_rows=1, what={f'a new {shape.name} row'!r})",
        "    key = result.inserted_primary_key",
        "    if key is None:",
        f"        raise NonRetryableError({f'{shape.name}: the database did not say which row it inserted'!r})",
        f"    row = await tx.fetch_one(select({_columns(plan)}).where({_where_key(plan, 'key')}))",
        "    if row is None:",
        f"        raise NonRetryableError({f'{shape.name}: the inserted row cannot be read back'!r})",
        f"    return {names.row}.model_validate(dict(row))",
        "",
        f"return await self.write(apply, req, returns={names.row})",
    ]
    return GeneratedAction(
        method=names.insert_action,
        effect=_INSERT,
        summary=(
            f"Insert one row into {shape.name!r} and answer it as stored (defaults filled in); "
            "repeated with the same idempotency key it inserts nothing and answers the first result."
        ),
        source_ref=f"table {shape.name}",
        input_model=_ref(plan, names.insert),
        output_model=_ref(plan, names.row),
        body=tuple(body),
        imports=frozenset(
            {
                "from sqlalchemy import insert, select",
                "from connectors.sql import SqlTransaction",
                "from retrofit.sdk import NonRetryableError",
            }
        ),
        notes=(
            "WRITE: review which columns callers may set; one idempotency key inserts one row "
            "(the SQL base records the key in the same transaction)",
        ),
    )


def update_action(plan: TablePlan) -> GeneratedAction:
    shape, names = plan.shape, plan.names
    nullable = any(c.nullable for c in plan.changeable)
    # Field names are identifiers: safe inside the generated f-string, unlike a foreign table name.
    what = 'f"' + "".join(f" {{req.{names.field(c.name)}!r}}" for c in plan.key_columns) + '"'
    body = [
        _field_map(plan, plan.changeable),
        "",
        f"async def apply(tx: SqlTransaction, req: {names.update}) -> {names.row}:",
        f"    table = await self.table({shape.name!r})",
        "    values = {columns[name]: value for name, value in req.changes.model_dump(exclude_none=True).items()}",
    ]
    if nullable:
        body += [
            "    both = sorted(set(values) & {columns[name] for name in req.set_null})",
            "    if both:",
            '        raise ActionInputError(f"{both} are both in `changes` and in `set_null`")',
            "    values |= {columns[name]: None for name in req.set_null}",
        ]
    body += [
        "    if not values:",
        '        raise ActionInputError("nothing to change: `changes` sets no column")',
        f"    where = ({_where_key(plan, 'req')},)",
        f"    await tx.execute(update(table).where(*where).values(values), expect_rows=1, what={shape.name!r} + {what})",
        f"    row = await tx.fetch_one(select({_columns(plan)}).where(*where))",
        "    if row is None:",
        f"        raise NonRetryableError({f'{shape.name}: the updated row cannot be read back'!r})",
        f"    return {names.row}.model_validate(dict(row))",
        "",
        f"return await self.write(apply, req, returns={names.row})",
    ]
    return GeneratedAction(
        method=names.update_action,
        effect=_UPDATE,
        summary=(
            f"Change columns of one row of {shape.name!r}, found by its primary key, and answer the "
            "row as stored; no row with that key is an input error and changes nothing."
        ),
        source_ref=f"table {shape.name}",
        input_model=_ref(plan, names.update),
        output_model=_ref(plan, names.row),
        body=tuple(body),
        imports=frozenset(
            {
                "from sqlalchemy import select, update",
                "from connectors.sql import SqlTransaction",
                "from retrofit.sdk import ActionInputError, NonRetryableError",
            }
        ),
        notes=("WRITE: review which columns callers may change; the key itself cannot be changed",),
    )


def merged_imports(actions: list[GeneratedAction], package: str) -> list[GeneratedAction]:
    """One import line per module for the whole group, without the models the writer imports
    itself: the writer joins the actions' lines, and a name imported twice is a redefinition."""
    group = actions[0].input_model.module
    own = {ref.name for a in actions for ref in (a.input_model, a.output_model)}
    names: dict[str, set[str]] = {}
    for action in actions:
        for line in action.imports:
            module, _, imported = line.removeprefix("from ").partition(" import ")
            names.setdefault(module, set()).update(n.strip() for n in imported.split(","))
    names[f"{package}.models.{group}"] = names.get(f"{package}.models.{group}", set()) - own
    lines = frozenset(f"from {m} import {', '.join(sorted(n))}" for m, n in names.items() if n)
    return [dataclasses.replace(a, imports=lines) for a in actions]
