"""The agent runtime's workflow side: pure, deterministic pieces the agent workflow is built from.

Contracts (input, budget, result), which actions an agent may call, the conversation it keeps
(prompts, delimited tool output, compaction for continue-as-new), and structured-output checks.
The model call itself is an activity (`retrofit.execution.llm_activity`).
"""
