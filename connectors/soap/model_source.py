"""A `TypeGraph` as pydantic source: one class per XSD type, split into modules, dependencies first.

What the generated code does, and why:

- **Names never shadow types.** A field is called as the runtime maps it (`python_name`), so a
  field `date` is possible; annotations therefore say `_dt.date` (`import datetime as _dt`), and
  a class with a field named like a builtin (`str`, `list`) writes `_b.str` (`import builtins`).
- **`xsi:type` polymorphism.** A type in an extension hierarchy is two classes: `XFields` (its
  own fields, inheriting its base's `…Fields`) and the concrete `X(XFields)` with
  `xsi_type: Literal["X"]`. A field declared `X` accepts `XVariants`, a union of X and every
  concrete subtype told apart by `xsi_type` (missing means X itself); the runtime sends the
  chosen subtype with its `xsi:type` (`signatures`). Concrete classes are never subclassed, so
  each `Literal` stays compatible with mypy.
- **Enumerations** are `Literal` aliases, **fixed** values a `Literal` with that default (so the
  value is filled in and no other is accepted), **nillable list items** `X | None`, and
  **secret-named** text fields `SecretStr`.
- **No depth limit.** Types reference each other by name; recursive types are cycles resolved by
  pydantic once the module is loaded. Modules hold whole strongly connected components in
  dependency order, so imports between them never form a cycle and no file grows huge.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from connectors.scaffold.naming import pascal
from connectors.soap.type_graph import FieldDef, TypeGraph, TypeNode

_BUILTINS = ("str", "int", "bool", "float", "bytes", "list")
_DATETIME = {"datetime": "_dt.datetime", "date": "_dt.date", "time": "_dt.time"}

#: Names the generated modules define or import themselves: no schema type may take one.
_MODULE_NAMES = frozenset(
    {"SoapModel", "xsi_type", "BaseModel", "ConfigDict", "Discriminator", "SecretStr", "Tag"}
    | {"Annotated", "Any", "Literal", "TypeAlias", "Union", "Decimal", "Field"}
)

BASE_SOURCE = '''"""The base of every generated model, and how `xsi:type` unions pick their member."""

from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel, ConfigDict, Discriminator

# pydantic builds the schemas of mutually recursive types depth-first: NetSuite's 300 search
# record types form one cycle and need more than Python's default 1000 frames.
if sys.getrecursionlimit() < 10000:
    sys.setrecursionlimit(10000)


class SoapModel(BaseModel):
    """Unknown fields are refused: a misspelt argument must not vanish on its way to the system.

    Schemas are built on first use, not at import: a big WSDL (NetSuite) imports in a third of
    the time, and a worker builds only the models of the actions it runs.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)


def xsi_type(default: str) -> Discriminator:
    """The member of an `xsi:type` union a value belongs to; no `xsi_type` means the declared type."""

    def tag(value: Any) -> str:
        found = value.get("xsi_type") if isinstance(value, dict) else getattr(value, "xsi_type", None)
        return str(found or default)

    return Discriminator(tag)
'''


@dataclass
class MessageModel:
    """An operation's input or output body as a class of its own (in its group's module)."""

    class_name: str
    fields: list[FieldDef]
    role: Literal["input", "output"]
    doc: str
    module: str


@dataclass
class _Unit:
    key: str  # a node key, "u:" + node key (its union), or "e:" + enum key
    names: list[str] = field(default_factory=list)  # what it defines


class ModelRenderer:
    """Renders the graph's types reachable from `messages` plus the messages themselves."""

    def __init__(
        self, graph: TypeGraph, messages: Sequence[MessageModel], *, taken: Iterable[str] = ()
    ) -> None:
        self.graph = graph
        self.messages = list(messages)
        self._taken: set[str] = {*_MODULE_NAMES, *taken, *(m.class_name for m in messages)}
        self.class_names: dict[str, str] = {}
        self.enum_names: dict[str, str] = {}
        self.reachable = self._reach()
        self._name_everything()

    # -- naming ---------------------------------------------------------------------------------

    def _claim(self, wanted: str, namespace: str, suffixes: tuple[str, ...] = ("",)) -> str:
        """A free name (with every `suffix` free too): the wanted one, else namespace-prefixed, else numbered."""

        def free(candidate: str) -> bool:
            return all(f"{candidate}{suffix}" not in self._taken for suffix in suffixes)

        name = wanted if free(wanted) else f"{_namespace_word(namespace)}{wanted}"
        base, n = name, 2
        while not free(name):
            name, n = f"{base}{n}", n + 1
        self._taken.update(f"{name}{suffix}" for suffix in suffixes)
        return name

    def _name_everything(self) -> None:
        for key in self.reachable:
            node = self.graph.nodes[key]
            suffixes = ("", "Fields", "Variants") if node.in_hierarchy else ("",)
            self.class_names[key] = self._claim(_pascal(node.local), node.namespace, suffixes)
        for key in sorted(self._enums()):
            local = key.rsplit("}", 1)[-1]
            namespace = key[1:].split("}", 1)[0] if key.startswith("{") else ""
            self.enum_names[key] = self._claim(_pascal(local), namespace)

    def fields_class(self, key: str) -> str:
        return f"{self.class_names[key]}Fields"

    def union_name(self, key: str) -> str:
        return f"{self.class_names[key]}Variants"

    def has_union(self, key: str) -> bool:
        return bool(self.graph.nodes[key].subtypes)

    # -- what is needed ---------------------------------------------------------------------------

    def _reach(self) -> list[str]:
        order: list[str] = []
        seen: set[str] = set()
        stack = [f.ref for m in self.messages for f in m.fields if f.ref]
        while stack:
            key = stack.pop()
            if key is None or key in seen:
                continue
            seen.add(key)
            order.append(key)
            node = self.graph.nodes[key]
            stack.extend(f.ref for f in node.fields if f.ref)
            stack.extend(node.subtypes)
            if node.base:
                stack.append(node.base)
        return sorted(order)

    def _enums(self) -> set[str]:
        fields = [f for m in self.messages for f in m.fields]
        fields += [f for key in self.reachable for f in self.graph.nodes[key].fields]
        return {f.enum for f in fields if f.enum}

    # -- units and their order --------------------------------------------------------------------

    def _units(self) -> dict[str, list[str]]:
        """Each unit's dependencies (what must be defined or imported before it)."""
        deps: dict[str, list[str]] = {f"e:{key}": [] for key in self.enum_names}
        for key in self.reachable:
            node = self.graph.nodes[key]
            units = [self._field_unit(f) for f in node.fields]
            deps[key] = ([node.base] if node.base else []) + [u for u in units if u]
            if self.has_union(key):
                deps[f"u:{key}"] = list(self.graph.variants(key))
        return deps

    def _field_unit(self, spec: FieldDef) -> str | None:
        if spec.ref:
            return f"u:{spec.ref}" if self.has_union(spec.ref) else spec.ref
        if spec.enum:
            return f"e:{spec.enum}"
        return None

    def type_modules(self, *, max_lines: int = 1000, prefix: str = "types") -> list[tuple[str, list[str]]]:
        """(module name, units in order) for the shared types, dependencies first, about `max_lines`
        lines each (a strongly connected component is never split, so one may be longer)."""
        deps = self._units()
        modules: list[tuple[str, list[str]]] = []
        current: list[str] = []
        count = 0
        for component in _components(deps):
            ordered = self._order_component(component)
            size = sum(self._lines(u) for u in ordered)
            if current and count + size > max_lines:
                modules.append((f"{prefix}_{len(modules) + 1}", current))
                current, count = [], 0
            current += ordered
            count += size
        if current:
            modules.append((f"{prefix}_{len(modules) + 1}" if modules else prefix, current))
        if len(modules) > 1 and modules[-1][0] == prefix:
            modules[-1] = (f"{prefix}_{len(modules)}", modules[-1][1])
        return modules

    def _lines(self, unit: str) -> int:
        """Roughly how many lines a unit renders to."""
        if unit.startswith("e:"):
            return 2
        if unit.startswith("u:"):
            return 8 + len(self.graph.variants(unit[2:]))
        node = self.graph.nodes[unit]
        return 6 + len(node.fields) + (7 if node.in_hierarchy else 0)

    def _order_component(self, component: list[str]) -> list[str]:
        def depth(unit: str) -> int:
            n, node = 0, self.graph.nodes.get(unit)
            while node is not None and node.base and n < 100:
                n, node = n + 1, self.graph.nodes.get(node.base)
            return n

        enums = sorted(u for u in component if u.startswith("e:"))
        unions = sorted(u for u in component if u.startswith("u:"))
        nodes = sorted((u for u in component if u in self.graph.nodes), key=lambda u: (depth(u), u))
        return enums + nodes + unions

    # -- source -----------------------------------------------------------------------------------

    def render(self, *, max_lines: int = 1000, single_module: str | None = None) -> dict[str, str]:
        """Module name -> source. `single_module` puts everything (with the base) in one module."""
        if single_module is not None:
            units = [u for _, group in self.type_modules(max_lines=10**9) for u in group]
            module = _Module(self, single_module, inline_base=True)
            for unit in units:
                module.add_unit(unit)
            for message in self.messages:
                module.add_message(message)
            return {single_module: module.source("Models generated from a WSDL by connectors.soap.codegen.")}
        out: dict[str, str] = {"base": BASE_SOURCE}
        location: dict[str, str] = {}
        for module_name, units in self.type_modules(max_lines=max_lines):
            module = _Module(self, module_name, location=location)
            for unit in units:
                module.add_unit(unit)
            out[module_name] = module.source(
                f"Schema types ({module_name}), generated from the WSDL; review."
            )
            for name in module.defined:
                location[name] = module_name
        by_module: dict[str, list[MessageModel]] = {}
        for message in self.messages:
            by_module.setdefault(message.module, []).append(message)
        for module_name, messages in by_module.items():
            module = _Module(self, module_name, location=location)
            for message in messages:
                module.add_message(message)
            out[module_name] = module.source(
                f"Inputs and answers of the {module_name} operations, generated."
            )
        return out


class _Module:
    def __init__(
        self,
        renderer: ModelRenderer,
        name: str,
        *,
        location: dict[str, str] | None = None,
        inline_base: bool = False,
    ) -> None:
        self.r = renderer
        self.name = name
        self.location = location or {}
        self.inline_base = inline_base
        self.defined: list[str] = []
        self.blocks: list[str] = []
        self.imports: set[str] = set()
        self.typing: set[str] = set()
        self.pydantic: set[str] = set()
        self.used: set[str] = set()  # names from other modules

    # units

    def add_unit(self, unit: str) -> None:
        graph, r = self.r.graph, self.r
        if unit.startswith("e:"):
            key = unit[2:]
            name = r.enum_names[key]
            self.typing.update({"Literal", "TypeAlias"})
            values = ", ".join(json.dumps(v) for v in graph.enums[key])
            self.blocks.append(f"{name}: TypeAlias = Literal[{values}]")
            self.defined.append(name)
            return
        if unit.startswith("u:"):
            key = unit[2:]
            members = [r.class_names[k] for k in graph.variants(key)]
            for member in members:
                self._use(member)
            self.typing.update({"Annotated", "TypeAlias", "Union"})
            self.pydantic.add("Tag")
            self._use("xsi_type")
            default = graph.nodes[graph.variants(key)[0]].local if members else graph.nodes[key].local
            tagged = "".join(
                f"        Annotated[{m}, Tag({json.dumps(graph.nodes[k].local)})],\n"
                for m, k in zip(members, graph.variants(key), strict=True)
            )
            self.blocks.append(
                f"{r.union_name(key)}: TypeAlias = Annotated[\n    Union[\n{tagged}    ],\n"
                f"    xsi_type({json.dumps(default)}),\n]"
            )
            self.defined.append(r.union_name(key))
            return
        node = graph.nodes[unit]
        name = r.class_names[unit]
        doc = f'    """XSD type {_clean(node.local)} ({_clean(node.namespace) or "no namespace"})."""'
        if not node.in_hierarchy:
            self._class(name, "SoapModel", doc, node.fields)
            return
        parent = r.fields_class(node.base) if node.base else "SoapModel"
        self._class(r.fields_class(unit), parent, doc, node.fields)
        if not node.abstract:
            self.typing.add("Literal")
            tag = json.dumps(node.local)
            self.blocks.append(
                f"class {name}({r.fields_class(unit)}):\n"
                f'    """{_clean(node.local)}, sent with xsi:type."""\n\n'
                f"    xsi_type: Literal[{tag}] = {tag}"
            )
            self.defined.append(name)

    def add_message(self, message: MessageModel) -> None:
        extra = (
            '    model_config = ConfigDict(extra="ignore")  # answers may grow'
            if message.role == "output"
            else ""
        )
        if extra:
            self.pydantic.add("ConfigDict")
        self._class(
            message.class_name, "SoapModel", f'    """{_clean(message.doc)}"""', message.fields, extra
        )

    def _class(self, name: str, parent: str, doc: str, fields: list[FieldDef], extra: str = "") -> None:
        self._use(parent)
        qualify = any(f.name in _BUILTINS for f in fields)
        lines = [f"class {name}({parent}):", doc]
        body = [extra] if extra else []
        body += [self._field_line(f, qualify) for f in fields]
        if body:
            lines.append("")
            lines += body
        self.blocks.append("\n".join(lines))
        self.defined.append(name)

    def _field_line(self, spec: FieldDef, qualify: bool) -> str:
        b = "_b." if qualify else ""
        if qualify:
            self.imports.add("import builtins as _b")
        if spec.fixed is not None:
            self.typing.add("Literal")
            value = (
                spec.fixed
                if spec.primitive == "str" or not spec.fixed.lstrip("-").isdigit()
                else int(spec.fixed)
            )
            literal = json.dumps(value)
            annotation = f"Literal[{literal}]"
            if spec.repeated:
                return f"    {spec.name}: {b}list[{annotation}] = []"
            return f"    {spec.name}: {annotation} = {literal}"
        inner = self._inner(spec, b)
        if spec.repeated:
            item = f"{inner} | None" if spec.nillable else inner
            annotation = f"{b}list[{item}]"
            return (
                f"    {spec.name}: {annotation}" if spec.required else f"    {spec.name}: {annotation} = []"
            )
        if spec.required and self._all_fixed(spec):
            # FedEx's `Version`: required, but every field is fixed, so it is filled in for you.
            self.pydantic.add("Field")
            return f"    {spec.name}: {inner} = Field(default_factory={inner})"
        if spec.required:
            return f"    {spec.name}: {inner}"
        return f"    {spec.name}: {inner} | None = None"

    def _all_fixed(self, spec: FieldDef) -> bool:
        """A complex type with at least one fixed field and nothing else required (not polymorphic)."""
        if spec.kind != "complex" or not spec.ref or self.r.graph.nodes[spec.ref].in_hierarchy:
            return False
        fields = self.r.graph.all_fields(spec.ref)
        return any(f.fixed is not None for f in fields) and not any(f.required for f in fields)

    def _inner(self, spec: FieldDef, b: str) -> str:
        r = self.r
        if spec.kind == "any":
            self.typing.add("Any")
            return "Any"
        if spec.kind == "complex" and spec.ref:
            node: TypeNode = r.graph.nodes[spec.ref]
            if r.has_union(spec.ref):
                name = r.union_name(spec.ref)
            elif node.in_hierarchy and node.abstract:
                name = r.fields_class(spec.ref)
            else:
                name = r.class_names[spec.ref]
            self._use(name)
            return name
        if spec.enum:
            name = r.enum_names[spec.enum]
            self._use(name)
            base = name
        elif spec.literal:
            self.typing.add("Literal")
            base = f"Literal[{', '.join(json.dumps(v) for v in spec.literal)}]"
        elif spec.secret:
            self.pydantic.add("SecretStr")
            base = "SecretStr"
        elif spec.primitive in _DATETIME:
            self.imports.add("import datetime as _dt")
            base = _DATETIME[spec.primitive]
        elif spec.primitive == "Decimal":
            self.imports.add("from decimal import Decimal")
            base = "Decimal"
        else:
            base = f"{b}{spec.primitive}"
        return f"{b}list[{base}]" if spec.is_list else base

    def _use(self, name: str) -> None:
        if name not in self.defined:
            self.used.add(name)

    def source(self, doc: str) -> str:
        head = [f'"""{doc}"""', "", "from __future__ import annotations", ""]
        stdlib = sorted(self.imports, key=lambda line: (not line.startswith("import "), line))
        if self.typing:
            stdlib.append(f"from typing import {', '.join(sorted(self.typing))}")
        third = set(self.pydantic)
        local: dict[str, set[str]] = {}
        blocks = list(self.blocks)
        if self.inline_base:
            third.update({"BaseModel", "ConfigDict", "Discriminator"})
            if "Any" not in self.typing:
                stdlib = [line for line in stdlib if not line.startswith("from typing")]
                stdlib.append(f"from typing import {', '.join(sorted(self.typing | {'Any'}))}")
            self.imports.add("import sys")
            stdlib = sorted({*stdlib, "import sys"}, key=lambda line: (not line.startswith("import "), line))
            base_body = BASE_SOURCE.split("from pydantic import BaseModel, ConfigDict, Discriminator\n", 1)[1]
            blocks.insert(0, base_body.strip())
        else:
            for name in sorted(self.used - set(self.defined)):
                module = "base" if name in ("SoapModel", "xsi_type") else self.location.get(name)
                if module is None:
                    raise ValueError(f"{self.name}: {name} is used before it is defined")
                local.setdefault(module, set()).add(name)
        if stdlib:
            head += [*stdlib, ""]
        if third:
            head += [f"from pydantic import {', '.join(sorted(third))}", ""]
        if local:
            head += [f"from .{m} import {', '.join(sorted(names))}" for m, names in sorted(local.items())]
            head.append("")
        return "\n".join(head) + "\n\n" + "\n\n\n".join(blocks) + "\n"


def _components(deps: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components, each after every component it depends on (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(deps):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = [c for c in deps.get(node, []) if c in deps]
            if i < len(children):
                work.append((node, i + 1))
                child = children[i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            for child in children:
                if child in on_stack:
                    low[node] = min(low[node], low[child])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                out.append(component)
    return out


def _pascal(text: str) -> str:
    return pascal(text)


def _namespace_word(namespace: str) -> str:
    """`urn:relationships_2023_2.lists.webservices.netsuite.com` -> `Relationships`."""
    tail = namespace.replace("urn:", "").split("/")[-1] or namespace
    first = tail.split(".")[0].split("_")[0]
    return _pascal(first) if first else "Ns"


def _clean(text: str) -> str:
    return text.replace("\\", "/").replace('"', "'")
