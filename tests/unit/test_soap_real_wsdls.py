"""Real vendor WSDLs (Salesforce Partner v58, NetSuite 2023_2) load offline, list and type their operations.

The files live in `../shared/data/wsdl/` beside the checkout (see shared/data/SOURCES.md); every
schema they import resolves locally, so these tests never touch the network.
"""

from __future__ import annotations

import importlib.util
import io
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from zeep import Client
from zeep.settings import Settings
from zeep.wsdl.utils import etree_to_string

from connectors.soap import (
    clear_wsdl_memo,
    find_operation,
    list_operations,
    load_wsdl,
    models_source,
    operation_models,
    wsdl_cache_stats,
)
from connectors.soap.pickled_wsdl import dump_document, load_document
from legacy.erp.wsdl import render_wsdl
from tests.shared_data import needs_shared_data, shared_data

DATA = shared_data("wsdl")
SALESFORCE = DATA / "salesforce-partner-v58.wsdl"
NETSUITE = DATA / "netsuite-2023_2" / "netsuite.wsdl"

pytestmark = [
    needs_shared_data("wsdl", "salesforce-partner-v58.wsdl"),
    needs_shared_data("wsdl", "netsuite-2023_2", "netsuite.wsdl"),
]


@pytest.fixture(scope="module")
def salesforce() -> Any:
    return load_wsdl(str(SALESFORCE))


@pytest.fixture(scope="module")
def netsuite() -> Any:
    return load_wsdl(str(NETSUITE))


def envelope(document: Any, operation: str, **arguments: Any) -> bytes:
    """The request zeep would send for `operation`, without sending it."""
    client = Client(document, transport=document.transport, settings=Settings())
    return bytes(etree_to_string(client.create_message(client.service, operation, **arguments)))


def test_salesforce_operations(salesforce: Any) -> None:
    operations = {op.name: op for op in list_operations(salesforce)}
    assert len(operations) == 63
    assert {"login", "query", "queryMore", "create", "update", "upsert", "delete", "describeSObject"} <= set(
        operations
    )
    query = operations["query"]
    assert (query.service, query.port, query.style) == ("SforceService", "Soap", "document")
    assert query.input_element == "{urn:partner.soap.sforce.com}query"
    assert query.input_parts == ("queryString",)
    assert "SessionHeader" in query.input_headers
    assert (query.output_element, query.output_parts) == (
        "{urn:partner.soap.sforce.com}queryResponse",
        ("result",),
    )
    assert operations["login"].input_parts == ("username", "password")
    assert operations["create"].input_parts == ("sObjects",)


def test_netsuite_operations(netsuite: Any) -> None:
    operations = {op.name: op for op in list_operations(netsuite)}
    assert len(operations) == 42
    assert {"get", "getList", "add", "update", "upsert", "delete", "search", "searchMoreWithId"} <= set(
        operations
    )
    get = operations["get"]
    assert (get.service, get.port, get.soap_action) == ("NetSuiteService", "NetSuitePort", "get")
    assert get.input_element == "{urn:messages_2023_2.platform.webservices.netsuite.com}get"
    assert get.input_parts == ("baseRef",)
    assert get.output_parts == ("readResponse",)
    assert operations["add"].input_parts == ("record",)
    assert operations["search"].input_parts == ("searchRecord",)
    assert "tokenPassport" in get.input_headers


def test_models_for_salesforce_operations(salesforce: Any) -> None:
    login_in, login_out = operation_models(find_operation(salesforce, "login"))
    assert list(login_in.model_fields) == ["username", "password"]
    assert login_in.model_fields["password"].is_required()
    result = login_out.model_fields["result"].annotation
    assert isinstance(result, type)
    assert {"session_id", "server_url", "password_expired", "user_info"} <= set(result.model_fields)

    query_in, query_out = operation_models(find_operation(salesforce, "query"))
    assert list(query_in.model_fields) == ["query_string"]
    page = query_out.model_validate(
        {"result": {"done": True, "size": 1, "records": [{"type": "Account", "id": "001xx"}]}}
    )
    assert page.model_dump()["result"]["records"][0]["type"] == "Account"


def test_models_for_netsuite_operations(netsuite: Any) -> None:
    get_in, get_out = operation_models(find_operation(netsuite, "get"))
    assert list(get_in.model_fields) == ["base_ref"]
    assert list(get_out.model_fields) == ["read_response"]
    read_response = get_out.model_fields["read_response"].annotation
    assert isinstance(read_response, type)
    assert set(read_response.model_fields) == {"status", "record"}

    server_time_in, server_time_out = operation_models(find_operation(netsuite, "getServerTime"))
    assert list(server_time_in.model_fields) == []
    result = server_time_out.model_fields["get_server_time_result"].annotation
    assert isinstance(result, type)
    assert result.model_fields["server_time"].annotation in (datetime, datetime | None)


def test_generated_source_is_importable_and_typed(salesforce: Any, tmp_path: Path) -> None:
    source = models_source(salesforce, ["login", "query"])
    assert "class LoginInput(SoapModel):" in source
    assert "    query_string: str" in source
    assert "    password: SecretStr" in source  # a secret-named field is never shown
    assert "    records: list[SObject | None] = []" in source  # nillable items
    module_path = tmp_path / "salesforce_models.py"
    module_path.write_text(source)
    spec = importlib.util.spec_from_file_location("salesforce_models", module_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves postponed annotations through the module
    try:
        spec.loader.exec_module(module)
        login = module.LoginInput(username="ops@example.com", password="s3cret")
        assert login.username == "ops@example.com"
        output = module.QueryOutput.model_validate({"result": {"done": True, "size": 0}})
        assert output.result.records == []
    finally:
        del sys.modules[spec.name]


# -- caching ---------------------------------------------------------------------------------------


@pytest.fixture
def fresh_memo() -> Iterator[None]:
    clear_wsdl_memo()
    yield
    clear_wsdl_memo()


@pytest.fixture
def small_wsdl(tmp_path: Path) -> Path:
    """The demo ERP's WSDL as a local file: the caching rules are the same, the parse is quick."""
    wsdl = tmp_path / "erp.wsdl"
    wsdl.write_bytes(render_wsdl("http://127.0.0.1:8702/erp"))
    return wsdl


def test_second_load_is_answered_from_memory(small_wsdl: Path, fresh_memo: None) -> None:
    before = wsdl_cache_stats()
    first = load_wsdl(str(small_wsdl))
    second = load_wsdl(str(small_wsdl.parent / "." / small_wsdl.name))  # same file, other spelling
    after = wsdl_cache_stats()
    assert first is second
    assert (after.parsed - before.parsed, after.memo_hits - before.memo_hits) == (1, 1)


def test_persistent_cache_serves_cold_starts_and_notices_changes(
    small_wsdl: Path, tmp_path: Path, fresh_memo: None
) -> None:
    cache = tmp_path / "cache"
    before = wsdl_cache_stats()

    parsed = load_wsdl(str(small_wsdl), cache_dir=cache)
    clear_wsdl_memo()  # what a new worker process starts with
    cached = load_wsdl(str(small_wsdl), cache_dir=cache)
    stats = wsdl_cache_stats()
    assert (stats.parsed - before.parsed, stats.disk_writes - before.disk_writes) == (1, 1)
    assert stats.disk_hits - before.disk_hits == 1
    assert cached is not parsed
    assert envelope(cached, "GetCustomer", customerId="C-1001") == envelope(
        parsed, "GetCustomer", customerId="C-1001"
    )

    # A changed WSDL is parsed afresh, never served from a stale entry.
    small_wsdl.write_bytes(small_wsdl.read_bytes() + b"\n<!-- changed -->\n")
    clear_wsdl_memo()
    load_wsdl(str(small_wsdl), cache_dir=cache)
    assert wsdl_cache_stats().parsed - before.parsed == 2


def test_corrupt_cache_entries_are_ignored(small_wsdl: Path, tmp_path: Path, fresh_memo: None) -> None:
    cache = tmp_path / "cache"
    load_wsdl(str(small_wsdl), cache_dir=cache)
    (entry,) = cache.iterdir()
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])  # a torn write
    clear_wsdl_memo()
    document = load_wsdl(str(small_wsdl), cache_dir=cache)
    assert len(list_operations(document)) == 6


def test_cache_entries_others_can_write_are_not_trusted(
    small_wsdl: Path, tmp_path: Path, fresh_memo: None
) -> None:
    cache = tmp_path / "cache"
    load_wsdl(str(small_wsdl), cache_dir=cache)
    (entry,) = cache.iterdir()
    entry.chmod(0o666)
    clear_wsdl_memo()
    before = wsdl_cache_stats()
    load_wsdl(str(small_wsdl), cache_dir=cache)
    assert wsdl_cache_stats().disk_hits == before.disk_hits


def test_netsuite_survives_pickling(netsuite: Any) -> None:
    """What the persistent cache does to the biggest real WSDL we have, checked on a real request."""
    buffer = io.BytesIO()
    dump_document(netsuite, buffer, loader=netsuite.transport)
    buffer.seek(0)
    restored = load_document(buffer, loader=netsuite.transport, settings=Settings())
    assert [op.name for op in list_operations(restored)] == [op.name for op in list_operations(netsuite)]

    def get_customer(document: Any) -> bytes:
        record_ref = document.types.get_type("{urn:core_2023_2.platform.webservices.netsuite.com}RecordRef")
        return envelope(document, "get", baseRef=record_ref(internalId="42", type="customer"))

    assert get_customer(restored) == get_customer(netsuite)
    assert b'internalId="42"' in get_customer(restored)
