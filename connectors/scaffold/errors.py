"""The one error a source reader raises: the description cannot be read or says nothing usable."""

from __future__ import annotations


class SourceError(Exception):
    """The OpenAPI file, WSDL or database cannot be read, or nothing in it can be generated.
    The message is one sentence for the integrator (`retrofit connectors new` prints it as is);
    it never repeats a credential from a database URL or a WSDL address."""
