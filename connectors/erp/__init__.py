"""The demo ERP's connector: its SOAP API (`legacy/erp`) as typed actions.

`models` is pure pydantic (workflows import it); `connector` holds the I/O.
"""
