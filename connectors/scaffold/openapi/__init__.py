"""OpenAPI 3.0/3.1 descriptions → a `GeneratedPackage` of REST actions (`read_openapi`).

document      loading YAML/JSON, `$ref` resolution (in the document and files beside it)
schemas       JSON Schema → class specs and annotations (enums as Literal, nullable, aliases)
model_source  class specs → model modules, split so schemas that refer to each other stay together
operations    one operation → a GeneratedAction (inputs, body, 2xx answer) or a Skipped reason
security      security schemes → SecretStr settings and `build_auth()`
grouping      operations → groups by tag (big tags split by path)
reader        read_openapi(): all of the above, in order
"""

from connectors.scaffold.openapi.reader import read_openapi

__all__ = ["read_openapi"]
