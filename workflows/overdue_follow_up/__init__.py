"""Overdue follow-up: a collections run across the ERP (SOAP), the CRM (REST) and the warehouse (SQL)."""
