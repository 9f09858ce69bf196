"""A worker for AccountOnboarding on every demo system (shared by the test and the history recorder)."""

from __future__ import annotations

import uuid

from temporalio.client import Client
from temporalio.worker import Worker

from connectors.crm.connector import CrmConnector
from connectors.erp.connector import ErpConnector
from connectors.ledger.connector import LedgerConnector
from connectors.northwind.connector import NorthwindConnector
from retrofit.gate.policy import Policy, allow_all
from retrofit.plugin import RetrofitPlugin
from retrofit.registry import connectors_from_classes
from tests.identity_support import PIN
from tests.support import DemoSystems
from workflows.account_onboarding.workflow import AccountOnboarding

ONBOARDED_ACCOUNT = "A-2006"  # on hold in the CRM, linked to ledger customer C-1006 (limit 75000.00)
# The welcome note (the third write) fails for good: the CRM answers 400 to it, once.
NOTE_FAILS_FOR_GOOD = {"fail_next": 1, "status": 400, "path_prefix": f"/accounts/{ONBOARDED_ACCOUNT}/notes"}


def onboarding_worker(
    client: Client, systems: DemoSystems, audit_url: str, *, policy: Policy | None = None
) -> Worker:
    plugin = RetrofitPlugin(
        connectors=connectors_from_classes([LedgerConnector, ErpConnector, CrmConnector, NorthwindConnector]),
        workflows=[AccountOnboarding],
        audit_url=audit_url,
        policy=policy or allow_all(),
        settings_overrides=systems.connector_settings(),
        identity=PIN,
    )
    return Worker(client, task_queue=f"onboarding-{uuid.uuid4()}", plugins=[plugin])
