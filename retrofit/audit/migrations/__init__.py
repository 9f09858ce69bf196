"""Alembic migration set for the audit schema (a package so setuptools ships it)."""
