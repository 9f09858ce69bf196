"""One OpenAPI operation → a `GeneratedAction` on `RestConnector`, or a `Skipped` with the reason.

Path, query and header parameters and the JSON (or form) request body become fields of the
input model; the 2xx JSON answer becomes the output model. What a generated action cannot do
faithfully (a binary upload or download, a cookie parameter it must send, a `$ref` that points
nowhere) is skipped with the reason, so the integrator writes that action by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from connectors.scaffold.effects import from_http_method
from connectors.scaffold.naming import Namespace, pascal, printable, snake
from connectors.scaffold.openapi.document import Document, RefError, as_dict, as_list
from connectors.scaffold.openapi.schemas import FieldSpec, SchemaReader, describe, field_name
from connectors.scaffold.package import GeneratedAction, ModelRef, Skipped

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Set by the HTTP client or the auth flow, never by a caller (OpenAPI says these are ignored).
_IGNORED_HEADERS = {"accept", "content-type", "authorization"}
_IDEMPOTENCY_HEADERS = {"idempotency-key"}
_TEMPLATE = re.compile(r"\{([^{}]*)\}")
# Query parameters that page through a list: the action returns one page, and says so.
_PAGING = {"page", "pagesize", "limit", "offset", "cursor", "pagetoken", "nextpagetoken", "continuationtoken"}
_PAGING |= {"skip", "top", "$top", "$skip", "perpage", "startindex", "after", "marker"}


class SkipOperation(Exception):
    """This operation cannot be generated; the message is the reason."""


@dataclass
class Operation:
    method: str  # upper case
    path: str
    op: dict[str, Any]
    params: list[dict[str, Any]]  # path-level merged with operation-level, resolved
    operation_id: str
    tags: list[str]

    @property
    def ref(self) -> str:
        """How comments, the README and the terminal name it: printable, whatever the path holds."""
        return printable(f"{self.method} {self.path}")


def _is_json(media: str) -> bool:
    media = media.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json") or media in ("*/*", "application/*")


def list_operations(doc: Document) -> tuple[list[Operation], list[Skipped]]:
    found: list[Operation] = []
    skipped: list[Skipped] = []
    for path, item in doc.root["paths"].items():
        path = str(path)
        try:
            item = doc.deref(item)
        except RefError as exc:
            skipped.append(Skipped(printable(path), f"path item: {exc}"))
            continue
        if not isinstance(item, dict):
            skipped.append(Skipped(printable(path), "path item is not an object"))
            continue
        shared = as_list(item.get("parameters"))
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            ref = printable(f"{method.upper()} {path}")
            if not isinstance(op, dict):
                skipped.append(Skipped(ref, "operation is not an object"))
                continue
            try:
                params = _merge_params(doc, shared, op.get("parameters"))
            except SkipOperation as exc:
                skipped.append(Skipped(ref, str(exc)))
                continue
            op_id = op.get("operationId")
            tags = (
                [str(t) for t in op.get("tags", []) if isinstance(t, str | int)]
                if isinstance(op.get("tags"), list)
                else []
            )
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    op=op,
                    params=params,
                    operation_id=str(op_id)
                    if isinstance(op_id, str) and op_id.strip()
                    else f"{method}{path}",
                    tags=tags,
                )
            )
    return found, skipped


def _merge_params(doc: Document, shared: list[Any], own: Any) -> list[dict[str, Any]]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*shared, *(own if isinstance(own, list) else [])]:
        try:
            param = doc.deref(raw)
        except RefError as exc:
            raise SkipOperation(f"parameter: {exc}") from None
        if not isinstance(param, dict) or not isinstance(param.get("name"), str) or "in" not in param:
            raise SkipOperation("a parameter without a name or location")
        merged[(str(param["in"]).lower(), param["name"])] = param  # the operation's own wins
    return list(merged.values())


@dataclass
class ActionBuilder:
    """Builds actions into the reader's classes; one per document."""

    doc: Document
    reader: SchemaReader
    package: str
    method_names: Namespace
    credential_headers: set[str]
    credential_query: set[str]
    #: Header (lower-case) → settings field, for headers every call sends (a tenant id).
    header_settings: dict[str, str] = field(default_factory=dict)
    needs_no_content: bool = False
    needs_binary: bool = False

    def build(self, operation: Operation, group: str) -> GeneratedAction:
        """The action, or SkipOperation; a skipped operation leaves none of its classes behind."""
        owner = f"operation:{group}:{operation.ref}"
        before = set(self.reader.classes)
        try:
            return self._build(operation, owner)
        except SkipOperation:
            for name in set(self.reader.classes) - before:
                if self.reader.classes[name].owner == owner:
                    del self.reader.classes[name]
            raise

    def _build(self, operation: Operation, owner: str) -> GeneratedAction:
        op = operation.op
        method = self.method_names.claim(snake(operation.operation_id, fallback="call"))
        input_name = self.reader.names.claim(pascal(operation.operation_id, fallback="Call"))
        notes: list[str] = []
        fields: list[FieldSpec] = []
        names = Namespace()
        path_exprs: dict[str, str] = {}
        query: list[str] = []
        headers: list[str] = []
        idempotent = False
        object_params = False
        template_names = set(_TEMPLATE.findall(operation.path))
        for param in operation.params:
            where, original = str(param["in"]).lower(), str(param["name"])
            if where == "header" and original.lower() in _IGNORED_HEADERS | self.credential_headers:
                continue
            if where == "query" and original in self.credential_query:
                continue
            if where == "header" and original.lower() in _IDEMPOTENCY_HEADERS:
                idempotent = True
                continue
            if where == "header" and original.lower() in self.header_settings:
                setting = self.header_settings[original.lower()]
                headers.append(f"{original!r}: str(getattr(self.settings, {setting!r}))")
                continue
            if where == "cookie":
                if param.get("required") is True:
                    raise SkipOperation(f"needs cookie parameter {original!r}, which actions do not send")
                notes.append(f"optional cookie parameter {original!r} left out")
                continue
            if where not in ("path", "query", "header"):
                raise SkipOperation(f"parameter {original!r} is in {where!r}, not path/query/header/cookie")
            if where == "path" and original not in template_names:
                continue  # declared but not in the template: nothing to fill
            schema = param.get("schema")
            if schema is None and isinstance(param.get("content"), dict) and param["content"]:
                schema = as_dict(next(iter(param["content"].values()), None)).get("schema", {})
                notes.append(f"parameter {original!r} is content-encoded; sent as given")
            hint = f"{input_name}{pascal(original, fallback='Param')}"
            ann, nullable = self.reader.annotation(schema, hint, owner, "in")
            if ann == "None":
                ann = "str"  # a parameter that can only be null is a broken description; take text
            is_object = "dict[" in ann or (ann[:1].isupper() and ann in self.reader.classes)
            deep = is_object and where == "query" and param.get("style") == "deepObject"
            if is_object:
                notes.append(
                    f"{where} parameter {original!r} is an object, sent "
                    + ("as deepObject keys (`name[key]=value`)" if deep else "as JSON text")
                    + ": check how the system expects it encoded"
                )
            if nullable and ann != "Any":
                ann = f"{ann} | None"
            required = where == "path" or param.get("required") is True
            name = field_name(original, names)
            fields.append(FieldSpec(name, ann, required, None, describe(param) or describe(schema)))
            value = f"values[{name!r}]" if required else f"values.get({name!r})"
            explode = param.get("explode", param.get("style", "form") == "form")
            if ann.startswith("list[") and not explode:
                # style=form, explode=false: one comma-separated value (`IDs=a,b`), not repeated keys.
                joined = f"','.join(str(v) for v in values[{name!r}])"
                value = joined if required else f"({joined} if {name!r} in values else None)"
            if deep:
                # Unpacked into the query dict: `filter[name]=x&filter[city]=y`.
                query.append(
                    f"**{{{original!r} + '[' + str(k) + ']': v for k, v in (values.get({name!r}) or {{}}).items()}}"
                )
                continue
            if is_object:
                value = f"(json.dumps({value}) if {name!r} in values else None)"
                object_params = True
            if where == "path":
                path_exprs[original] = f"path_segment(str({value}))"
            elif where == "query":
                query.append(f"{original!r}: {value}")
            else:
                headers.append(f"{original!r}: {value}")
        paging = [
            p["name"] for p in operation.params if str(p["in"]).lower() == "query" and _paging(str(p["name"]))
        ]
        if paging and operation.method == "GET":
            notes.append(
                f"returns one page ({', '.join(map(repr, paging))}): pass the next page's value to read "
                "more, or walk the pages with `self.paginate()` and a page strategy"
            )
        missing = template_names - set(path_exprs)
        if missing:
            raise SkipOperation(f"path parameter(s) {', '.join(sorted(missing))} not declared")
        body_kw, body_field = self._request_body(operation, input_name, owner, names, fields, notes)
        output, decode, accept = self._response(operation, input_name, owner, notes)
        self.reader.model(input_name, owner, "in", _summary(op) or operation.ref, fields)

        lines: list[str] = []
        if fields:
            lines.append('values = req.model_dump(mode="json", by_alias=True, exclude_none=True)')
        if body_field is not None:
            lines.append(f"body = values.get({body_field!r})")
        args = [repr(operation.method), _path_expression(operation.path, path_exprs)]
        if query:
            lines.append("params = {k: v for k, v in {" + ", ".join(query) + "}.items() if v is not None}")
            args.append("params=params")
        header_items = ([f"'Accept': {accept!r}"] if accept else []) + headers
        if header_items:
            lines.append(
                "headers = {k: str(v) for k, v in {" + ", ".join(header_items) + "}.items() if v is not None}"
            )
            args.append("headers=headers")
        if body_kw:
            args.append(f"{body_kw}=body")
        if idempotent:
            args.append("idempotent=True")
            notes.append(
                "sends the call's idempotency key in the Idempotency-Key header the description declares"
            )
        imports = {"from connectors.rest import path_segment"} if path_exprs else set()
        if object_params:
            imports.add("import json")
        if decode == "model":
            lines.append(f"return await self.request_json({', '.join(args)}, expect={output.name})")
        elif decode == "root":
            body_model = next(
                n for n, c in self.reader.classes.items() if c.owner == owner and c.kind == "root"
            )
            lines.append(f"response = await self.request({', '.join(args)})")
            lines.append(
                f"return {output.name}(items=decode_response({body_model}, response, system=self.name).root)"
            )
            imports.add("from connectors.rest.decoding import decode_response")
        elif decode == "binary":
            lines.append(f"response = await self.request({', '.join(args)})")
            lines.append(
                "return BinaryContent(content_type=response.headers.get('content-type', ''), "
                "size=len(response.content), content_base64=base64.b64encode(response.content).decode('ascii'))"
            )
            imports.add("import base64")
        else:
            lines.append(f"response = await self.request({', '.join(args)})")
            lines.append("return NoContent(status=response.status_code)")
        summary = _summary(op) or operation.ref
        if op.get("deprecated") is True:
            notes.append("deprecated in the description")
        return GeneratedAction(
            method=method,
            effect=from_http_method(operation.method),
            summary=summary,
            # Shown in a comment above the method: foreign text must not end that comment.
            source_ref=printable(
                operation.ref + (f" ({operation.operation_id})" if operation.op.get("operationId") else "")
            )[:300],
            input_model=ModelRef("", input_name),  # module filled in once modules are assigned
            output_model=output,
            body=tuple(lines),
            imports=frozenset(imports),
            notes=tuple(notes),
        )

    def _request_body(
        self,
        operation: Operation,
        input_name: str,
        owner: str,
        names: Namespace,
        fields: list[FieldSpec],
        notes: list[str],
    ) -> tuple[str | None, str | None]:
        raw = operation.op.get("requestBody")
        if raw is None:
            return None, None
        try:
            body = self.doc.deref(raw)
        except RefError as exc:
            raise SkipOperation(f"request body: {exc}") from None
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, dict) or not content:
            return None, None
        required = body.get("required") is True
        json_media = next((m for m in content if _is_json(str(m))), None)
        form_media = next(
            (m for m in content if str(m).lower().startswith("application/x-www-form-urlencoded")), None
        )
        media = json_media or form_media
        if media is None:
            kinds = printable(", ".join(sorted(map(str, content))))
            if required:
                raise SkipOperation(
                    f"request body is {kinds} (binary or multipart): write this action by hand"
                )
            notes.append(f"optional {kinds} request body left out")
            return None, None
        media_obj = content[media] if isinstance(content[media], dict) else {}
        ann, nullable = self.reader.annotation(media_obj.get("schema", {}), f"{input_name}Body", owner, "in")
        if media is form_media and not (ann in self.reader.classes or ann.startswith("dict[")):
            raise SkipOperation("form body that is not an object")
        if nullable and ann != "Any":
            ann = f"{ann} | None"
        name = names.claim("body")
        fields.append(FieldSpec(name, ann, required, None, describe(body) or "the request body"))
        return ("json" if media is json_media else "data"), name

    def _response(
        self, operation: Operation, input_name: str, owner: str, notes: list[str]
    ) -> tuple[ModelRef, str, str | None]:
        responses = operation.op.get("responses")
        if not isinstance(responses, dict):
            responses = {}
        codes = sorted(
            (str(c) for c in responses if str(c).startswith("2")), key=lambda c: c.replace("X", "9")
        )
        chosen = next((c for c in codes), None)
        if chosen is None and "default" in responses:
            chosen = "default"
        answer: Any = None
        if chosen is not None:
            try:
                answer = self.doc.deref(responses[chosen])
            except RefError as exc:
                raise SkipOperation(f"response {chosen}: {exc}") from None
        content = answer.get("content") if isinstance(answer, dict) else None
        if not isinstance(content, dict) or not content:
            self.needs_no_content = True
            return ModelRef("common", "NoContent"), "none", None
        json_media = next((m for m in content if _is_json(str(m))), None)
        if json_media is None:
            # A file (PDF, attachment): the bytes as base64, with the type; the README says the cap.
            self.needs_binary = True
            notes.append(
                "answers a file ("
                + printable(", ".join(sorted(map(str, content))))[:120]
                + "): returned base64-encoded; "
                "a result travels through workflow history, so keep files small (about 1 MB)"
            )
            return ModelRef("common", "BinaryContent"), "binary", ", ".join(map(str, content))[:200]
        media_obj = content[json_media] if isinstance(content[json_media], dict) else {}
        schema = media_obj.get("schema", {})
        result_name = f"{input_name}Result"
        ann, nullable = self.reader.annotation(schema, result_name, owner, "out")
        if ann in self.reader.classes and self.reader.classes[ann].kind == "model" and not nullable:
            return ModelRef("", ann), "model", "application/json"
        # A list, scalar, union or free-form answer: wrap it so the action still returns a model.
        name = self.reader.names.claim(result_name)
        item = ann if not nullable or ann == "Any" else f"{ann} | None"
        self.reader.root(self.reader.names.claim(f"{name}Body"), owner, "out", item)
        self.reader.model(
            name,
            owner,
            "out",
            f"The answer of {operation.ref}, under `items`.",
            [FieldSpec("items", item, True, None, "the answer as the system sent it")],
        )
        if ann == "Any":
            notes.append("the answer is untyped in the description (Any)")
        return ModelRef("", name), "root", "application/json"


def _paging(name: str) -> bool:
    return name.lower().replace("_", "").replace("-", "") in _PAGING


def _summary(op: dict[str, Any]) -> str:
    return printable(str(op.get("summary") or op.get("description") or ""))[:1000]


def _path_expression(path: str, exprs: dict[str, str]) -> str:
    """The request path as a concatenation (never an f-string: the template is foreign text)."""
    parts: list[str] = []
    pos = 0
    for match in _TEMPLATE.finditer(path):
        if match.start() > pos:
            parts.append(repr(path[pos : match.start()]))
        parts.append(exprs[match.group(1)])
        pos = match.end()
    if pos < len(path):
        parts.append(repr(path[pos:]))
    return " + ".join(parts) or "''"
