"""External MCP servers as Retrofit connectors (operator-configured, schema-pinned)."""
