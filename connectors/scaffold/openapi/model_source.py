"""Class specs → the source of the package's model modules.

Named schemas are split into `schemas_<n>` modules: strongly connected groups of schemas (those
that refer to each other) stay together, and a module only imports from modules before it, so
there is never an import cycle. Each operation group's own models (inputs, inline answers) go
into a module named after the group, importing what it uses.
"""

from __future__ import annotations

import re
import textwrap
from collections import defaultdict

from connectors.scaffold.naming import Namespace
from connectors.scaffold.openapi.schemas import ClassSpec, FieldSpec, SchemaReader, class_names

_INDENT = "    "
CLASSES_PER_MODULE = 40

_STDLIB = {
    "date": "from datetime import date",
    "datetime": "from datetime import datetime",
    "UUID": "from uuid import UUID",
}


def assign_modules(reader: SchemaReader, group_of_owner: dict[str, str], taken: set[str]) -> dict[str, str]:
    """Class name → model module name."""
    owners_in_order: list[str] = []
    for spec in reader.classes.values():
        if spec.owner not in owners_in_order:
            owners_in_order.append(spec.owner)
    components = [o for o in owners_in_order if o not in group_of_owner]
    deps = reader.unit_dependencies()
    names = Namespace(set(taken))
    module_of_owner: dict[str, str] = dict(group_of_owner)
    chunk: list[str] = []
    size = 0
    sizes: dict[str, int] = defaultdict(int)
    for spec in reader.classes.values():
        sizes[spec.owner] += 1
    for scc in _sccs(components, {o: deps.get(o, set()) & set(components) for o in components}):
        scc_size = sum(sizes[o] for o in scc)
        if chunk and size + scc_size > CLASSES_PER_MODULE:
            _close(chunk, module_of_owner, names)
            chunk, size = [], 0
        chunk += scc
        size += scc_size
    if chunk:
        _close(chunk, module_of_owner, names)
    return {name: module_of_owner[spec.owner] for name, spec in reader.classes.items()}


def _close(chunk: list[str], module_of_owner: dict[str, str], names: Namespace) -> None:
    module = names.claim(
        f"schemas_{len([n for n in set(module_of_owner.values()) if n.startswith('schemas_')]) + 1}"
    )
    for owner in chunk:
        module_of_owner[owner] = module


def _sccs(nodes: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, dependencies first (iterative: deep graphs exist)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(edges.get(start, ())))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(edges.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component, key=nodes.index))
    return out


def render_modules(reader: SchemaReader, module_of: dict[str, str], package: str) -> dict[str, str]:
    by_module: dict[str, list[ClassSpec]] = defaultdict(list)
    for name, spec in reader.classes.items():
        by_module[module_of[name]].append(spec)
    return {module: _module(module, specs, module_of, package) for module, specs in by_module.items()}


def _ordered(specs: list[ClassSpec]) -> list[ClassSpec]:
    """Aliases first, then each class after the classes of this module it uses, where possible."""
    here = {s.name: s for s in specs}
    done: list[ClassSpec] = [s for s in specs if s.kind == "alias"]
    placed = {s.name for s in done}
    visiting: set[str] = set()

    def visit(spec: ClassSpec) -> None:
        if spec.name in placed or spec.name in visiting:
            return
        visiting.add(spec.name)
        for ref in sorted(spec.refs):
            if ref in here and ref != spec.name:
                visit(here[ref])
        visiting.discard(spec.name)
        placed.add(spec.name)
        done.append(spec)

    for spec in specs:
        visit(spec)
    return done


def _module(module: str, specs: list[ClassSpec], module_of: dict[str, str], package: str) -> str:
    ordered = _ordered(specs)
    used: set[str] = set()
    for spec in ordered:
        for f in spec.fields:
            used |= class_names(f.annotation)
        used |= class_names(spec.target)
    local = {s.name for s in specs}
    imports_from: dict[str, set[str]] = defaultdict(set)
    for name in sorted(used):
        if name in module_of and name not in local:
            imports_from[module_of[name]].add(name)
    stdlib = sorted({line for name, line in _STDLIB.items() if name in used})
    typing = [n for n in ("Any", "Literal") if n in used]
    pydantic = {"ConfigDict"} if any(s.kind == "model" for s in specs) else set()
    if any(s.kind == "model" for s in specs):
        pydantic.add("BaseModel")
    if any(s.kind == "root" for s in specs):
        pydantic.add("RootModel")
    if any(_needs_field(f) for s in specs for f in s.fields):
        pydantic.add("Field")
    lines = [
        f'"""Models of module {module}: generated from the OpenAPI description; review before use."""',
        "",
        "from __future__ import annotations",
        "",
        *stdlib,
    ]
    if typing:
        lines.append(f"from typing import {', '.join(typing)}")
    lines.append("")
    lines.append(f"from pydantic import {', '.join(sorted(pydantic))}")
    if imports_from:
        lines.append("")
        lines += [
            f"from {package}.models.{mod} import {', '.join(sorted(names))}"
            for mod, names in sorted(imports_from.items())
        ]
    position = {s.name: i for i, s in enumerate(ordered)}
    rebuild: list[str] = []
    for spec in ordered:
        lines += ["", ""] if spec.kind != "alias" else [""]
        lines += _class(spec)
        later = [r for r in spec.refs if r in position and position[r] >= position[spec.name]]
        if later and spec.kind != "alias":
            rebuild.append(spec.name)
    if rebuild:
        lines += ["", "", "# These classes use classes defined after them (or themselves): resolve them now."]
        lines += [f"{name}.model_rebuild()" for name in rebuild]
    return "\n".join(lines) + "\n"


def _docstring(text: str, indent: str) -> list[str]:
    clean = " ".join(text.replace("\\", "\\\\").replace('"""', "'''").split())
    clean = clean.rstrip('"').rstrip("\\") if clean.endswith(('"', "\\")) else clean
    if not clean:
        return []
    wrapped = textwrap.wrap(clean, width=96 - len(indent))
    if len(wrapped) == 1:
        return [f'{indent}"""{wrapped[0]}"""']
    return [f'{indent}"""{wrapped[0]}', *(f"{indent}{line}" for line in wrapped[1:]), f'{indent}"""']


def _needs_field(f: FieldSpec) -> bool:
    return bool(f.alias or f.description)  # a bare optional field is `= None`


def _class(spec: ClassSpec) -> list[str]:
    if spec.kind == "alias":
        return [f"{spec.name} = {spec.target}"]
    if spec.kind == "root":
        return [
            f"class {spec.name}(RootModel[{spec.target}]):",
            *(_docstring(spec.description, _INDENT) or [f"{_INDENT}pass"]),
        ]
    config = (
        'ConfigDict(extra="forbid", populate_by_name=True)'
        if spec.variant == "in"
        else "ConfigDict(populate_by_name=True, coerce_numbers_to_str=True)"
    )
    lines = [f"class {spec.name}(BaseModel):", *_docstring(spec.description, _INDENT)]
    if len(lines) > 1:
        lines.append("")
    lines.append(f"{_INDENT}model_config = {config}")
    if spec.fields:
        lines.append("")
    lines += [_field(f) for f in spec.fields]
    return lines


_NONE_SUFFIX = re.compile(r"\|\s*None$")


def _field(f: FieldSpec) -> str:
    annotation = f.annotation
    args: list[str] = []
    if not f.required:
        if annotation not in ("Any", "None") and not _NONE_SUFFIX.search(annotation):
            annotation = f"{annotation} | None"
        args.append("default=None")
    if f.alias:
        args.append(f"alias={f.alias!r}")
    if f.description:
        args.append(f"description={f.description!r}")
    if not args:
        return f"{_INDENT}{f.name}: {annotation}"
    if args == ["default=None"]:
        return f"{_INDENT}{f.name}: {annotation} = None"
    return f"{_INDENT}{f.name}: {annotation} = Field({', '.join(args)})"
