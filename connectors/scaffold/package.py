"""The contract between a source reader (OpenAPI, WSDL, database) and the package writer.

A reader produces model source per module and, per action, the few lines of its body; the writer
owns everything else (files, imports, docstrings, the entry point, the README, the tests), so
every generated package has the same shape whatever it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from connectors.scaffold.effects import InferredEffect

SourceKind = Literal["openapi", "wsdl", "database"]


@dataclass(frozen=True)
class ModelRef:
    """A class in one of the package's model modules (`models/<module>.py`)."""

    module: str
    name: str


@dataclass(frozen=True)
class ImportRef:
    """A name imported from an installed module, e.g. `connectors.rest.RestConnector`."""

    module: str
    name: str

    @property
    def line(self) -> str:
        return f"from {self.module} import {self.name}"


@dataclass(frozen=True)
class GeneratedAction:
    method: str  # the Python method name, unique in the connector
    effect: InferredEffect
    summary: str  # the docstring: what users and models are told the action does
    source_ref: str  # where it came from: "GET /Invoices/{InvoiceID}", "SOAP query", "table Customers"
    input_model: ModelRef
    output_model: ModelRef
    #: The method body, one statement per line, unindented; it sees `self` and `req`.
    body: tuple[str, ...]
    #: Import lines the body needs (`from connectors.rest import path_segment`).
    imports: frozenset[str] = frozenset()
    #: Review notes for this action (README): a guessed effect, a loosely typed answer, ...
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SettingField:
    name: str
    annotation: str  # Python source, e.g. "SecretStr" or "str | None"
    default: str | None  # Python source of the default; None means required
    description: str
    secret: bool = False  # must then be annotated SecretStr (the writer checks)
    imports: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ConnectorSpec:
    name: str  # the connector (entry point) name, e.g. "xero"
    title: str  # one line for the class docstring, e.g. "Xero Accounting API 2.x (OpenAPI)"
    base: ImportRef  # RestConnector / SoapConnector / SqlConnector
    settings_base: ImportRef
    settings: tuple[SettingField, ...] = ()
    #: Extra members of the connector class (e.g. `build_auth`), as source lines, unindented.
    members: tuple[str, ...] = ()
    member_imports: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Skipped:
    ref: str  # the operation, table or type
    reason: str


@dataclass(frozen=True)
class SourceInfo:
    kind: SourceKind
    location: str  # path or URL as given, with any credentials removed
    digest: str  # SHA-256 of the description as read, so a later regeneration can say what changed
    title: str = ""
    version: str = ""


@dataclass
class GeneratedPackage:
    connector: ConnectorSpec
    source: SourceInfo
    #: Model module name → complete Python source (pydantic only: workflows import models).
    model_modules: dict[str, str]
    #: Group (a module under `actions/`) → its actions; a group becomes one mixin class.
    groups: dict[str, list[GeneratedAction]]
    skipped: list[Skipped] = field(default_factory=list)
    #: Notes for the whole package, shown first in the README's review list.
    review: list[str] = field(default_factory=list)
    #: Selection globs that matched nothing (`Selection.unmatched_notes`): likely typos.
    unmatched: list[str] = field(default_factory=list)

    @property
    def actions(self) -> list[GeneratedAction]:
        return [a for group in self.groups.values() for a in group]
