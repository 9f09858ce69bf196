"""`retrofit connectors new`: a connector package generated from the legacy system's own description.

Each source has its own reader that turns the description into a `GeneratedPackage`; one writer
turns any `GeneratedPackage` into files an integrator reviews and commits:

    package        the contract: GeneratedPackage, GeneratedAction, ModelRef, SettingField, ...
    writer         write_package(): pyproject, connector, models/, actions/, README, conformance test
    naming         Python identifiers from foreign names (snake_case, PascalCase, keywords, clashes)
    effects        effect inference (HTTP method, SOAP operation name), always marked for review
    selection      --operations / --tables globs
    openapi/       OpenAPI 3 documents → REST actions
    wsdl/          WSDL services → SOAP actions
    database/      tables and views → SQL read actions (writes only when asked)
"""
