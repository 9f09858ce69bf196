"""Malformed connector plugins, loaded through real entry points by test_plugin_loading."""

from __future__ import annotations

from pydantic import BaseModel

from retrofit import ActionInput, Connector, Effect, action


class In(ActionInput):
    x: int


class Out(BaseModel):
    y: int


class Good(Connector):
    """A well-formed connector."""

    name = "good"

    @action(effect=Effect.READ)
    async def read(self, req: In) -> Out:
        """Read y."""
        return Out(y=req.x)

    @action(effect=Effect.WRITE, compensate="read")
    async def write(self, req: In) -> Out:
        """Write y."""
        return Out(y=req.x)


class GoodTwin(Good):
    """Same name as Good: a duplicate."""


class TwoArgs(Connector):
    name = "two_args"

    @action(effect=Effect.READ)
    async def read(self, req: In, extra: int) -> Out:
        """Read."""
        return Out(y=extra)


class NoModels(Connector):
    name = "no_models"

    @action(effect=Effect.READ)
    async def read(self, req: dict) -> dict:  # type: ignore[type-arg]
        """Read."""
        return req


class NotAsync(Connector):
    name = "not_async"

    @action(effect=Effect.READ)  # type: ignore[type-var]
    def read(self, req: In) -> Out:
        """Read."""
        return Out(y=1)


class NoDoc(Connector):
    name = "no_doc"

    @action(effect=Effect.READ)
    async def read(self, req: In) -> Out:
        return Out(y=1)


class BadCompensate(Connector):
    name = "bad_compensate"

    @action(effect=Effect.WRITE, compensate="undo")
    async def write(self, req: In) -> Out:
        """Write."""
        return Out(y=1)


class NoActions(Connector):
    name = "no_actions"


class BadName(Connector):
    name = "Bad Name"

    @action(effect=Effect.READ)
    async def read(self, req: In) -> Out:
        """Read."""
        return Out(y=1)


class NotAConnector:
    name = "plain"
