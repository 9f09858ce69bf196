"""Worker start: which of Retrofit's search attributes the namespace has registered (with the
right type). The answer is pinned into each run through the policy snapshot, so a workflow upserts
only those and an unprepared namespace never fails a workflow task."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError

from retrofit.gate.search_attributes import REGISTRATION

log = logging.getLogger(__name__)

_TYPES = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}


async def registered_search_attributes(client: Client) -> list[str]:
    """Retrofit's attributes registered on the client's namespace; none when the server cannot say."""
    try:
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace), timeout=timedelta(seconds=10)
        )
    except RPCError as exc:
        log.warning("search attributes not checked (%s): the workflow list will not show what waits", exc)
        return []
    found = dict(response.custom_attributes)
    registered = [name for name, kind in REGISTRATION.items() if found.get(name) == _TYPES[kind]]
    missing = sorted(set(REGISTRATION) - set(registered))
    if missing:
        log.warning(
            "search attributes not registered on namespace %r: %s (see `retrofit search-attributes register`)",
            client.namespace,
            ", ".join(missing),
        )
    return registered


@dataclass
class SearchAttributeCheck:
    """Filled at worker start (`RetrofitPlugin.run_worker`), read by the policy activity."""

    names: tuple[str, ...] = ()

    async def run(self, client: Client) -> None:
        self.names = tuple(await registered_search_attributes(client))
