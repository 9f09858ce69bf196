"""The demo legacy systems for `retrofit dev --demo`, registered as the `retrofit.demo` entry point.

Ledger (REST), ERP (SOAP), CRM (REST, OAuth2) on their fixed loopback ports 8701-8703 (or free
ones), the Northwind SQLite database under the stack's data directory, and the demo connectors'
settings pointing at them.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from connectors.crm.connector import CrmConnector
from connectors.erp.connector import ErpConnector
from connectors.ledger.connector import LedgerConnector
from connectors.northwind.connector import NorthwindConnector
from legacy.crm.server import CrmServer
from legacy.erp.server import ErpServer
from legacy.ledger.server import LedgerServer
from legacy.sqldb.database import SqlDemoDatabase
from retrofit.embedded.demo_systems import StartedDemoSystems


def start_demo_systems(
    stack: contextlib.AsyncExitStack, directory: Path, ephemeral: bool
) -> StartedDemoSystems:
    ledger = LedgerServer(port=0 if ephemeral else 8701)
    ledger.start()
    stack.callback(ledger.stop)
    erp = ErpServer(port=0 if ephemeral else 8702)
    erp.start()
    stack.callback(erp.stop)
    crm = CrmServer(port=0 if ephemeral else 8703)
    crm.start()
    stack.callback(crm.stop)
    northwind = SqlDemoDatabase(directory)
    northwind.prepare()
    return StartedDemoSystems(
        urls={
            "ledger (REST)": ledger.url,
            "ERP (SOAP)": erp.wsdl_url,
            "CRM (REST, OAuth2)": crm.url,
            "Northwind (SQL)": str(northwind.path),
        },
        connector_settings={
            "ledger": LedgerConnector.load_settings(base_url=ledger.url, api_key=ledger.api_key),
            "erp": ErpConnector.load_settings(wsdl=erp.wsdl_url),
            "crm": CrmConnector.load_settings(base_url=crm.url, client_secret=crm.client_secret),
            "northwind": NorthwindConnector.load_settings(url=northwind.url),
        },
        admin={"ledger": ledger.url, "erp": erp.url, "crm": crm.url},
    )
