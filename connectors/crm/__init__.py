"""The demo CRM's connector (`legacy/crm`): accounts, contacts and notes over REST with OAuth2.

`models` is pure pydantic (workflows import it); `connector` holds the I/O. Nothing is
re-exported here, so importing the models never pulls in httpx.
"""
