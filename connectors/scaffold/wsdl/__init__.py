"""WSDL services -> SOAP actions on `connectors.soap.SoapConnector`.

    reader       read_wsdl(): operations, effects, the GeneratedPackage
    grouping     groups by service and port, split so no file is huge
    credentials  SOAP headers and secret-holding body elements -> settings, never inputs

Models come from `connectors.soap.type_graph` and `model_source` (one class per XSD type).
"""

from connectors.scaffold.wsdl.reader import read_wsdl

__all__ = ["read_wsdl"]
