"""`retrofit search-attributes`: register Retrofit's search attributes on a namespace (production;
`retrofit dev` registers them on its dev server), so the UI's list filters what waits."""

from __future__ import annotations

import typer
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

from retrofit.cli.output import console, run_async
from retrofit.execution.search_attribute_check import registered_search_attributes
from retrofit.gate.search_attributes import REGISTRATION
from retrofit.settings import RetrofitSettings
from retrofit.worker import connect

app = typer.Typer(help="Retrofit's search attributes for the Temporal UI's list (ops).", no_args_is_help=True)

_TYPES = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}


def commands(namespace: str) -> list[str]:
    """The same, as `temporal` CLI commands (for an operator who registers them by hand)."""
    return [
        f"temporal operator search-attribute create --namespace {namespace} --name {name} --type {kind}"
        for name, kind in REGISTRATION.items()
    ]


@app.command("register")
def register(
    print_only: bool = typer.Option(False, "--print", help="Print the `temporal` commands instead."),
) -> None:
    """Register the attributes that are missing on RETROFIT_TEMPORAL_NAMESPACE (restart workers after)."""
    settings = RetrofitSettings()
    if print_only:
        for line in commands(settings.temporal_namespace):
            console.print(line, highlight=False, soft_wrap=True)
        return

    async def go() -> None:
        client = await connect(settings)
        have = set(await registered_search_attributes(client))
        missing = {name: _TYPES[kind] for name, kind in REGISTRATION.items() if name not in have}
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
            )
        console.print(
            f"namespace {client.namespace}: registered {', '.join(sorted(missing)) or 'nothing (all present)'}"
        )

    run_async(go())
