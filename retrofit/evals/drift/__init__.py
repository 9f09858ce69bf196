"""Drift from what production already records: agent runs scored from the audit trail, per model,
prompt version or workflow type, the current window against the one before (`retrofit eval report`).

    records.py  — the store's records folded into one `RunFacts` per agent run
    scoring.py  — a group of runs as rates, per-turn figures and percentiles (`GroupScore`)
    compare.py  — the current window against the previous one, flagged past `Thresholds`
    report.py   — the windows, the grouping and the whole `DriftReport`
    render.py   — the table and the JSON a person or a CI job reads
"""
