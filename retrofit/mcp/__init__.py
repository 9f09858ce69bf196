"""Model Context Protocol: Retrofit as an MCP server and external MCP servers as connectors."""
