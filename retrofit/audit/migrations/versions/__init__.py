"""Audit schema revisions, applied in order by retrofit.audit.migrate."""
