"""Workflows for the trace tests: a parent starting a child that continues as new once."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="trace_test.touch")
async def touch(run: int) -> int:
    return run


@workflow.defn(name="TraceChild")
class TraceChild:
    @workflow.run
    async def run(self, run: int) -> int:
        await workflow.execute_activity(touch, run, start_to_close_timeout=timedelta(seconds=30))
        if run == 0:
            workflow.continue_as_new(1)
        return run


@workflow.defn(name="TraceParent")
class TraceParent:
    @workflow.run
    async def run(self) -> int:
        # The SDK's replay-safe logger: silent on replay, the workflow's ids on the record.
        workflow.logger.info("starting the child", extra={"child_runs": 2})
        child: int = await workflow.execute_child_workflow(
            TraceChild.run, 0, id=f"{workflow.info().workflow_id}-child"
        )
        return child
