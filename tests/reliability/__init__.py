"""Reliability: killed workers, a restarted server, compensation, hostile input (dev server + demo systems)."""
