"""The SOAP connector base: zeep over httpx, WSDLs parsed once, faults mapped to Retrofit errors.

Modules, each with one job:

- `connector`      — `SoapConnector`, the base class; `call()` runs an operation with models
- `settings`       — `SoapSettings`: WSDL, endpoint, timeouts, cache dir, WS-Security user
- `wsdl_cache`     — `load_wsdl`: one parse per process, plus an optional persistent cache
- `pickled_wsdl`   — how a parsed WSDL is written to and read from that cache
- `loader`         — `OfflineSchemaLoader`: imports resolve locally or are refused
- `catalog`        — the shipped copies of well-known W3C/OASIS schemas (`catalog/*.xsd`)
- `operations`     — `list_operations`: what a WSDL offers
- `signatures`     — operation <-> pydantic: runtime models, argument mapping, model checks
- `codegen`        — `python -m connectors.soap.codegen WSDL OP...`: models as source code
- `faults`         — `soap_error`: the one mapping of faults and HTTP errors to Retrofit errors;
                     `VendorFault`/`VendorError`: what a connector's fault hooks see
- `capture`        — `ExchangeCapture`: redacted envelopes for the audit trail
- `security`       — WS-Security UsernameToken as a plugin
- `transport`      — zeep's httpx transport, built from settings
"""

from connectors.soap.capture import ExchangeCapture, redact_envelope
from connectors.soap.catalog import SchemaCatalog
from connectors.soap.codegen import models_source
from connectors.soap.connector import SoapAnswer, SoapConnector, SoapHeaders
from connectors.soap.faults import ErrorKind, VendorError, VendorFault, soap_error
from connectors.soap.loader import OfflineSchemaLoader, SchemaFetchRefused, WsdlFetchError
from connectors.soap.operations import OperationInfo, UnknownOperation, find_operation, list_operations
from connectors.soap.settings import SoapSettings
from connectors.soap.signatures import model_mismatches, operation_models
from connectors.soap.wsdl_cache import WsdlCacheStats, clear_wsdl_memo, load_wsdl, wsdl_cache_stats

__all__ = [
    "ErrorKind",
    "ExchangeCapture",
    "OfflineSchemaLoader",
    "OperationInfo",
    "SchemaCatalog",
    "SchemaFetchRefused",
    "SoapAnswer",
    "SoapConnector",
    "SoapHeaders",
    "SoapSettings",
    "UnknownOperation",
    "VendorError",
    "VendorFault",
    "WsdlCacheStats",
    "WsdlFetchError",
    "clear_wsdl_memo",
    "find_operation",
    "list_operations",
    "load_wsdl",
    "model_mismatches",
    "models_source",
    "operation_models",
    "redact_envelope",
    "soap_error",
    "wsdl_cache_stats",
]
