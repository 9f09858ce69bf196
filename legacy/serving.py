"""Moved to `retrofit.http_serving` (the framework must not import the demo systems); kept one
session for code written against the old path."""

from retrofit.http_serving import ThreadedUvicorn, bind, hide_expected_errors, serve_foreground, url_of

__all__ = ["ThreadedUvicorn", "bind", "hide_expected_errors", "serve_foreground", "url_of"]
