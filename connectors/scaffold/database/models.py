"""The model module of one table: its row, its page of rows, and the inputs of its actions.

Row models read the database's mapping by column name (an alias per field) and answer by field
name; inputs are `ActionInput` (unknown fields refused). Nothing here imports an I/O library:
workflows import model modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from connectors.scaffold.database.naming import TableNames
from connectors.scaffold.database.schema import ColumnShape, TableShape

Paging = Literal["keyset", "offset"]
# Legacy date text: try the date first, keep the text when it is not one (see pytypes).
_LEFT_TO_RIGHT = {"datetime | str", "date | str"}
#: Default page size; the connector's ROW_LIMIT setting caps it again at run time.
DEFAULT_PAGE = 100
MAX_PAGE = 500


@dataclass(frozen=True)
class TablePlan:
    shape: TableShape
    names: TableNames
    paging: Paging
    insert: bool
    update: bool

    @property
    def key_columns(self) -> tuple[ColumnShape, ...]:
        return tuple(self.shape.column(c) for c in self.shape.key)

    @property
    def writable(self) -> tuple[ColumnShape, ...]:
        return self.shape.readable

    @property
    def changeable(self) -> tuple[ColumnShape, ...]:
        return tuple(c for c in self.shape.readable if not c.primary_key)


def model_module(plan: TablePlan) -> str:
    shape, names = plan.shape, plan.names
    imports = {
        "from pydantic import BaseModel, ConfigDict, Field",
        "from retrofit.sdk.action import ActionInput",
    }
    for column in shape.readable:
        assert column.type is not None
        imports |= column.type.imports
        if column.type.annotation in _LEFT_TO_RIGHT:
            imports.add("from typing import Annotated")
    classes: list[list[str]] = []
    row = [
        f"class {names.row}(BaseModel):",
        f'    """One row of the {shape.kind} {_quoted(shape.name)}; fields read their columns by name."""',
        "",
        "    model_config = ConfigDict(populate_by_name=True)",
        "",
    ]
    row += [_row_field(plan, c) for c in shape.readable]
    classes.append(row)
    if plan.paging == "keyset":
        classes.append(
            [
                f"class {names.key}(ActionInput):",
                f'    """Where a page of {_quoted(shape.name)} ends: its last primary key."""',
                "",
                *(_key_field(plan, c) for c in plan.key_columns),
            ]
        )
    classes.append(_list_input(plan))
    classes.append(_page(plan))
    if plan.insert:
        classes.append(_insert(plan))
    if plan.update:
        if any(c.nullable for c in plan.changeable):
            imports.add("from typing import Literal")
        classes += _update(plan)
    lines = [
        f'"""Models of the {shape.kind} {_quoted(shape.name)} (generated; tighten the inputs)."""',
        "",
        "from __future__ import annotations",
        "",
        *sorted(i for i in imports if not i.startswith(("from pydantic", "from retrofit"))),
        "",
        *sorted(i for i in imports if i.startswith("from pydantic")),
        "",
        *sorted(i for i in imports if i.startswith("from retrofit")),
    ]
    for body in classes:
        lines += ["", "", *body]
    return "\n".join(_squeeze(lines)) + "\n"


def _squeeze(lines: list[str]) -> list[str]:
    # Import groups may be empty: no runs of more than two blank lines, none before the imports.
    out: list[str] = []
    for line in lines:
        if line == "" and len(out) >= 2 and out[-1] == "" and out[-2] == "":
            continue
        if line == "" and out and out[-1] == "" and len(out) >= 2 and out[-2].startswith("from __future__"):
            continue
        out.append(line)
    return out


def _quoted(name: str) -> str:
    # Inside a generated docstring: no quotes or backslashes from a foreign name can end it.
    return "'" + name.replace("\\", "/").replace('"', "'").replace("\n", " ") + "'"


def _annotation(column: ColumnShape, *, optional: bool) -> str:
    assert column.type is not None
    text = column.type.annotation
    if text in _LEFT_TO_RIGHT:
        text = f'Annotated[{text}, Field(union_mode="left_to_right")]'
    return f"{text} | None" if optional else text


def _description(column: ColumnShape) -> str:
    return repr(f"column {column.name} ({column.declared})")


def _row_field(plan: TablePlan, column: ColumnShape) -> str:
    field = plan.names.field(column.name)
    alias = f"alias={column.name!r}"
    if column.nullable:
        return f"    {field}: {_annotation(column, optional=True)} = Field(default=None, {alias})"
    return f"    {field}: {_annotation(column, optional=False)} = Field({alias})"


def _key_field(plan: TablePlan, column: ColumnShape) -> str:
    return f"    {plan.names.field(column.name)}: {_annotation(column, optional=False)} = Field(description={_description(column)})"


def _list_input(plan: TablePlan) -> list[str]:
    names, shape = plan.names, plan.shape
    limit = (
        f"    limit: int = Field(default={DEFAULT_PAGE}, ge=1, le={MAX_PAGE}, "
        'description="rows per page (the connector\'s ROW_LIMIT caps it)")'
    )
    if plan.paging == "keyset":
        order = ", ".join(shape.key)
        where = (
            f"    after: {names.key} | None = Field(\n"
            f'        default=None, description="`next` of the previous page; omit for the first page"\n'
            "    )"
        )
        doc = f"Read {_quoted(shape.name)} a page at a time, in primary-key order ({order})."
    else:
        where = '    offset: int = Field(default=0, ge=0, description="`next_offset` of the previous page")'
        doc = f"Read {_quoted(shape.name)} a page at a time, ordered by all its columns."
    return [f"class {names.list_input}(ActionInput):", f'    """{_escape(doc)}"""', "", limit, where]


def _page(plan: TablePlan) -> list[str]:
    names = plan.names
    more = (
        f'    next: {names.key} | None = Field(default=None, description="pass as `after` for the next page")'
        if plan.paging == "keyset"
        else '    next_offset: int | None = Field(default=None, description="pass as `offset` for the next page")'
    )
    return [
        f"class {names.page}(BaseModel):",
        f'    """A page of {_quoted(plan.shape.name)}; `truncated` says more rows follow."""',
        "",
        f"    rows: list[{names.row}]",
        more,
        "    truncated: bool = False",
    ]


def _insert(plan: TablePlan) -> list[str]:
    lines = [
        f"class {plan.names.insert}(ActionInput):",
        f'    """A new row of {_quoted(plan.shape.name)}; a field left out (None) gets the column\'s default."""',
        "",
    ]
    for column in plan.writable:
        field = plan.names.field(column.name)
        constraint = _length(column)
        required = column.primary_key and not column.generated_key
        required = required or (not column.nullable and not column.has_default and not column.generated_key)
        if required:
            lines.append(
                f"    {field}: {_annotation(column, optional=False)} = Field(description={_description(column)}{constraint})"
            )
        else:
            lines.append(
                f"    {field}: {_annotation(column, optional=True)} = Field(default=None, "
                f"description={_description(column)}{constraint})"
            )
    return lines


def _update(plan: TablePlan) -> list[list[str]]:
    names = plan.names
    changes = [
        f"class {names.changes}(ActionInput):",
        '    """The columns to change; a field left out (None) keeps its value (see `set_null`)."""',
        "",
    ]
    for column in plan.changeable:
        changes.append(
            f"    {names.field(column.name)}: {_annotation(column, optional=True)} = Field(default=None, "
            f"description={_description(column)}{_length(column)})"
        )
    nullable = [names.field(c.name) for c in plan.changeable if c.nullable]
    update = [
        f"class {names.update}(ActionInput):",
        f'    """Change one row of {_quoted(plan.shape.name)}, found by its primary key."""',
        "",
        *(_key_field(plan, c) for c in plan.key_columns),
        f"    changes: {names.changes}",
    ]
    if nullable:
        choices = ", ".join(repr(n) for n in nullable)
        update.append(
            f"    set_null: list[Literal[{choices}]] = Field(\n"
            '        default_factory=list, description="columns to set to NULL (not also in `changes`)"\n'
            "    )"
        )
    return [changes, update]


def _length(column: ColumnShape) -> str:
    if column.type is not None and column.type.annotation == "str" and column.length:
        return f", max_length={column.length}"
    return ""


def _escape(text: str) -> str:
    return text.replace('"""', "'''")
