"""Generate pydantic source for WSDL operations: typed models an integrator reviews and commits.

    python -m connectors.soap.codegen path/or/url.wsdl GetCustomer ListInvoices > models.py

The output is ordinary pydantic code (`from __future__ import annotations`, snake_case fields,
one class per XSD type), so mypy and the action catalog see real types: `xsi:type` subtypes as
typed unions, enumerations as `Literal`, fixed values enforced, secret-named fields `SecretStr`,
no depth limit (see `model_source` for how). It is a starting point: tighten it by hand and keep
it honest with `signatures.model_mismatches` in a test. `retrofit connectors new --from-wsdl`
writes the same models as a whole package, split into modules.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from connectors.soap.model_source import MessageModel, ModelRenderer
from connectors.soap.operations import find_operation
from connectors.soap.type_graph import TypeGraph, message_owner
from connectors.soap.wsdl_cache import load_wsdl
from connectors.soap.xsd_facets import read_facets


def operation_messages(
    graph: TypeGraph, operation: Any, module: str, class_prefix: str
) -> list[MessageModel]:
    """`<Prefix>Input` and `<Prefix>Output` for one zeep operation (its types join `graph`)."""
    name = operation.name
    body_in = getattr(getattr(operation.input, "body", None), "type", None)
    body_out = getattr(getattr(operation.output, "body", None), "type", None)
    return [
        MessageModel(
            f"{class_prefix}Input",
            graph.message_fields(body_in, owner=message_owner(operation.input)),
            "input",
            f"Arguments of {name}.",
            module,
        ),
        MessageModel(
            f"{class_prefix}Output",
            graph.message_fields(body_out, owner=message_owner(operation.output)),
            "output",
            f"Answer of {name}.",
            module,
        ),
    ]


def models_source(document: Any, operations: Sequence[str]) -> str:
    """Python source defining `<Op>Input` and `<Op>Output` models for each named operation."""
    location = str(getattr(document, "location", "") or "")
    graph = TypeGraph(document, read_facets(location) if location else None)
    messages: list[MessageModel] = []
    for name in operations:
        messages += operation_messages(graph, find_operation(document, name), "models", _camel(name))
    return ModelRenderer(graph, messages).render(single_module="models")["models"]


def _camel(name: str) -> str:
    parts = [part for part in name.replace("-", "_").split("_") if part]
    return "".join(part[:1].upper() + part[1:] for part in parts) or "Model"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m connectors.soap.codegen",
        description="Print pydantic models for WSDL operations (schemas resolve offline).",
    )
    parser.add_argument("wsdl", help="WSDL path or URL")
    parser.add_argument("operations", nargs="+", help="operation names, e.g. GetCustomer")
    args = parser.parse_args(argv)
    sys.stdout.write(models_source(load_wsdl(args.wsdl), args.operations))


if __name__ == "__main__":
    main()
