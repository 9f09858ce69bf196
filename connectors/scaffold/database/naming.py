"""Python names for one table's generated code: classes, fields, the action methods."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from connectors.scaffold.database.schema import TableShape
from connectors.scaffold.naming import Namespace, pascal, snake

# Field names the generated models use themselves, and BaseModel's own members (a field `json`
# or `copy` would shadow a method, which pydantic refuses).
_TAKEN = {"limit", "after", "offset", "rows", "next", "next_offset", "truncated", "changes", "set_null"}
_TAKEN |= {n for n in dir(BaseModel) if not n.startswith("__")}


@dataclass(frozen=True)
class TableNames:
    group: str  # the module under models/ and actions/
    row: str
    key: str
    list_input: str
    page: str
    insert: str
    changes: str
    update: str
    list_action: str
    insert_action: str
    update_action: str
    fields: dict[str, str]  # column -> field name

    def field(self, column: str) -> str:
        return self.fields[column]


def table_names(shape: TableShape, groups: Namespace, actions: Namespace) -> TableNames:
    group = groups.claim(snake(shape.name, fallback="table"))
    base = pascal(shape.name, fallback="Table")
    fields = Namespace(set(_TAKEN))
    mapping: dict[str, str] = {}
    # Columns already spelt as their field claim it first: a field's alias (its column) must
    # never be another field's name, or an answer dumped by field name and validated again (the
    # gate does) would fill one field from the other ("x y" and "x_y").
    own = [c for c in shape.columns if snake(c.name, fallback="column") == c.name and c.name not in _TAKEN]
    for column in [*own, *(c for c in shape.columns if c not in own)]:
        wanted = snake(column.name, fallback="column")
        if wanted in _TAKEN:
            wanted = f"{wanted}_"
        mapping[column.name] = fields.claim(wanted)
    return TableNames(
        group=group,
        row=f"{base}Row",
        key=f"{base}Key",
        list_input=f"List{base}",
        page=f"{base}Page",
        insert=f"Insert{base}",
        changes=f"{base}Changes",
        update=f"Update{base}",
        list_action=actions.claim(f"list_{group}".rstrip("_")),
        insert_action=actions.claim(f"insert_{group}".rstrip("_")),
        update_action=actions.claim(f"update_{group}".rstrip("_")),
        fields=mapping,
    )
