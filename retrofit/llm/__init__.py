"""The agent runtime's model layer (DESIGN.md, "Agent runtime").

Split by the determinism boundary: `contracts` and `tools` are pure (workflows import them);
`settings`, `client` and `scripted_server` do I/O and belong to activities, tests and the demo.
This package imports none of its modules, so importing `retrofit.llm.contracts` stays pure.
"""
