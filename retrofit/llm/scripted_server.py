"""A scripted model server that speaks OpenAI's chat completions API, for the demo and the tests.

It plays a `Script`: the assistant turns of one conversation, in order. The turn it answers is the
number of assistant messages already in the request, so it needs no session state, and two
conversations that replay the same script each get the same answers. Every response is labelled:
header `x-retrofit-scripted: true` and a model name ending in `-scripted`.

    POST /v1/chat/completions   non-streaming chat completion (Bearer key checked)
    GET  /_admin/health         200 once serving
    POST /_admin/faults         {"fail_next": n, "status": 429|500|503, "retry_after": s}
    GET  /_admin/requests       the chat requests received (bodies; never the key)
    PUT  /_admin/script         replace the default script (a `Script` as JSON)
    POST /_admin/scripts        add a script played for requests naming its model
    POST /_admin/reset          forget requests, faults and timings
    PUT  /_admin/pacing         per-request delay and concurrency limit (a `Pacing` as JSON)
    GET  /_admin/timings        per chat request: queue wait, service time, drawn delay

A turn can also play a hostile or broken provider (`ScriptedTurn.usage`, `omit_usage`,
`pad_to_bytes`, `raw_body`, `delay_seconds`): lying usage, no usage, oversize answers, garbage
HTTP 200 bodies, slow answers.

Opt-in `Pacing` plays a real model server's time: a delay on every request (fixed, or drawn from
a seeded distribution) and a concurrency limit past which requests queue, as a local server that
serves one request at a time does. Each answer then says how long it queued and was served
(headers `x-retrofit-queue-wait-ms`, `x-retrofit-service-ms`; all of them at `/_admin/timings`).

Run one: `python -m retrofit.llm.scripted_server --script demo.json --port 8790`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import math
import random
import threading
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from retrofit.http_serving import ThreadedUvicorn, serve_foreground
from retrofit.llm.settings import SCRIPTED_MODEL

SCRIPTED_HEADER = "x-retrofit-scripted"
QUEUE_WAIT_HEADER = "x-retrofit-queue-wait-ms"
SERVICE_HEADER = "x-retrofit-service-ms"
DEFAULT_KEY = "retrofit-scripted-key"
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


class ScriptedToolCall(BaseModel):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    arguments: dict[str, Any] = Field(default_factory=dict)
    # Sent as the arguments text instead of `arguments`: how a script plays a model that emits
    # broken JSON.
    raw_arguments: str | None = None
    # Sent as the call id instead of a derived one: how a script plays a model that reuses ids.
    call_id: str | None = None


class ScriptedTurn(BaseModel):
    """One assistant turn: either text or tool calls; or, to play a hostile or broken provider,
    a raw HTTP 200 body."""

    content: str | None = None
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    # Sent as the `usage` object instead of the counted one (negative, fractional, huge, text...).
    usage: dict[str, Any] | None = None
    omit_usage: bool = False  # no `usage` at all, as some OpenAI-compatible servers answer
    # The content padded with filler to this many bytes: an answer over a size limit.
    pad_to_bytes: int | None = Field(default=None, ge=1)
    # Sent as the whole HTTP 200 body instead of a chat completion: garbage from a provider.
    raw_body: str | None = None
    # The answer waits this long (real seconds): a slow provider, or one a worker dies waiting on.
    delay_seconds: float = Field(default=0.0, ge=0, le=60)

    @model_validator(mode="after")
    def _one_kind(self) -> ScriptedTurn:
        if self.raw_body is not None:
            return self
        if (self.content is None) == (not self.tool_calls):
            raise ValueError("a scripted turn has either content or tool_calls, not both or neither")
        return self


class Script(BaseModel):
    model: str = SCRIPTED_MODEL
    turns: list[ScriptedTurn] = Field(default_factory=list)
    # Past the last turn, play it again forever: a model that never stops.
    repeat_last: bool = False

    @field_validator("model")
    @classmethod
    def _labelled(cls, model: str) -> str:
        if not model.endswith("-scripted"):
            raise ValueError("a scripted model's name ends in '-scripted', so it is labelled wherever used")
        return model

    @classmethod
    def from_file(cls, path: Path) -> Script:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))


class Fault(BaseModel):
    fail_next: int = Field(default=1, ge=1)
    status: Literal[408, 409, 429, 500, 502, 503] = 503
    retry_after: float | None = Field(default=None, ge=0)


class Pacing(BaseModel):
    """How long a request takes and how many are served at once. Default: no delay, no limit."""

    # Per request, before the turn's own `delay_seconds`: the median for `lognormal`, the mean
    # for `uniform` and `exponential`.
    delay_seconds: float = Field(default=0.0, ge=0, le=60, allow_inf_nan=False)
    distribution: Literal["fixed", "uniform", "exponential", "lognormal"] = "fixed"
    # `uniform`: delay * (1 +- spread); `lognormal`: sigma of the log. Unused otherwise.
    spread: float = Field(default=0.5, ge=0, le=3, allow_inf_nan=False)
    seed: int = 0
    # Requests served at once; the rest wait their turn (first come, first served). None: no limit.
    concurrency: int | None = Field(default=None, ge=1, le=1024)

    def draw(self, rng: random.Random) -> float:
        """One request's delay in seconds, capped at 60 (a long tail must not hang a test)."""
        base = self.delay_seconds
        if base == 0 or self.distribution == "fixed":
            drawn = base
        elif self.distribution == "uniform":
            drawn = base * (1 + rng.uniform(-self.spread, self.spread))
        elif self.distribution == "exponential":
            drawn = rng.expovariate(1 / base)
        else:
            drawn = base * math.exp(rng.gauss(0, self.spread))
        return min(60.0, max(0.0, drawn))


class Timing(BaseModel):
    """One chat request as the server timed it (milliseconds)."""

    model: str
    turn: int  # assistant messages in the request: which scripted turn it asked for
    queue_wait_ms: float  # waiting for a free slot under `Pacing.concurrency`
    service_ms: float  # from taking the slot to the answer built: drawn delay, turn delay, work
    delay_ms: float  # the `Pacing` delay drawn for it
    serving: int  # requests being served when this one took its slot, itself included


class ScriptedState:
    """What the server plays and has seen; shared by the server thread and the test thread."""

    def __init__(self, script: Script, api_key: str) -> None:
        self.script = script
        # Scripts by model name: a request for `<name>-scripted` plays that one, so several
        # conversations (eval scenarios, tests) share one server without taking turns.
        self.named: dict[str, Script] = {}
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        self.pacing = Pacing()
        self.timings: list[Timing] = []
        self._rng = random.Random(self.pacing.seed)
        # Made in the server's event loop on first use, and again when the pacing changes.
        self._slots: asyncio.Semaphore | None = None
        self._serving = 0

    def set_pacing(self, pacing: Pacing) -> None:
        with self.lock:
            self.pacing = pacing
            self._rng = random.Random(pacing.seed)
            self._slots = None

    def _slot_limit(self) -> asyncio.Semaphore | None:
        with self.lock:
            if self.pacing.concurrency is not None and self._slots is None:
                self._slots = asyncio.Semaphore(self.pacing.concurrency)
            return self._slots

    async def paced(self, model: str, turn: int, extra_delay: float) -> Timing:
        """Wait for a slot, then the drawn delay and `extra_delay`, holding the slot: what a
        chat request spends before its answer is built. The caller builds the answer after."""
        queued = time.perf_counter()
        slots = self._slot_limit()
        if slots is not None:
            await slots.acquire()
        try:
            started = time.perf_counter()
            with self.lock:
                delay = self.pacing.draw(self._rng)
                self._serving += 1
                serving = self._serving
            try:
                if delay + extra_delay:
                    await asyncio.sleep(delay + extra_delay)
            finally:
                with self.lock:
                    self._serving -= 1
            timing = Timing(
                model=model,
                turn=turn,
                queue_wait_ms=round((started - queued) * 1000, 3) if slots is not None else 0.0,
                service_ms=round((time.perf_counter() - started) * 1000, 3),
                delay_ms=round(delay * 1000, 3),
                serving=serving,
            )
        finally:
            if slots is not None:
                slots.release()
        with self.lock:
            self.timings.append(timing)
        return timing

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.faults.clear()
            self.timings.clear()

    def script_for(self, model: str) -> Script:
        with self.lock:
            return self.named.get(model, self.script)

    def take_fault(self) -> Fault | None:
        with self.lock:
            if not self.faults:
                return None
            fault = self.faults[0]
            if fault.fail_next == 1:
                self.faults.pop(0)
            else:
                self.faults[0] = fault.model_copy(update={"fail_next": fault.fail_next - 1})
            return fault


def estimate_tokens(text: str) -> int:
    """Deterministic stand-in for a tokenizer: about four characters a token, at least one."""
    return max(1, (len(text) + 3) // 4)


def _error(
    status: int, message: str, *, kind: str, code: str | None = None, param: str | None = None
) -> Response:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers={SCRIPTED_HEADER: "true"})


def _invalid(message: str, param: str | None = None) -> Response:
    return _error(400, message, kind="invalid_request_error", param=param)


def _request_problem(body: Any) -> tuple[str, str | None] | None:
    """What is wrong with a chat request's shape, as (message, param); None when it is fine."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object", None
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "'model' is required and must be a string", "model"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array", "messages"
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            return f"{where} must be an object with a role in {sorted(_ROLES)}", where
        if message["role"] == "tool" and not isinstance(message.get("tool_call_id"), str):
            return f"{where}: a tool message needs 'tool_call_id'", f"{where}.tool_call_id"
    if "tools" in body:
        tools = body["tools"]
        if not isinstance(tools, list):
            return "'tools' must be an array", "tools"
        for index, tool in enumerate(tools):
            where = f"tools[{index}]"
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
                return f"{where} must be {{'type': 'function', 'function': {{...}}}}", where
            if not isinstance(function.get("name"), str) or not function["name"]:
                return f"{where}.function.name is required", f"{where}.function.name"
            if not isinstance(function.get("parameters", {}), dict):
                return f"{where}.function.parameters must be a JSON schema object", f"{where}.function"
    if body.get("stream"):
        return "the scripted server does not stream", "stream"
    return None


def _prompt_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    for message in body["messages"]:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):  # content parts: count their text
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        for call in message.get("tool_calls") or []:
            function = call.get("function", {}) if isinstance(call, dict) else {}
            parts.append(f"{function.get('name', '')}{function.get('arguments', '')}")
    if body.get("tools"):
        parts.append(json.dumps(body["tools"], sort_keys=True))
    return "".join(parts)


def _call_id(turn: int, index: int, name: str) -> str:
    digest = hashlib.sha256(f"{turn}:{index}:{name}".encode()).hexdigest()[:24]
    return f"call_{digest}"


def _turn_index(body: dict[str, Any], script: Script) -> int:
    turn_index = sum(1 for m in body["messages"] if m["role"] == "assistant")
    if script.repeat_last and script.turns:
        turn_index = min(turn_index, len(script.turns) - 1)
    return turn_index


def _turn_delay(body: dict[str, Any], script: Script) -> float:
    index = _turn_index(body, script)
    return script.turns[index].delay_seconds if index < len(script.turns) else 0.0


def _completion(body: dict[str, Any], script: Script) -> Response:
    turn_index = _turn_index(body, script)
    if turn_index >= len(script.turns):
        return _error(
            400,
            f"the script has {len(script.turns)} turns and this conversation asks for turn {turn_index + 1}",
            kind="invalid_request_error",
            code="script_exhausted",
        )
    turn = script.turns[turn_index]
    if turn.raw_body is not None:
        return Response(turn.raw_body, media_type="application/json", headers={SCRIPTED_HEADER: "true"})
    content = turn.content
    if content is not None and turn.pad_to_bytes is not None:
        content += " " * max(0, turn.pad_to_bytes - len(content.encode()))
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if turn.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.call_id or _call_id(turn_index, index, call.name),
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": call.raw_arguments
                    if call.raw_arguments is not None
                    else json.dumps(call.arguments),
                },
            }
            for index, call in enumerate(turn.tool_calls)
        ]
        reply_text = "".join(
            c["function"]["name"] + c["function"]["arguments"] for c in message["tool_calls"]
        )
    else:
        reply_text = content or ""
    prompt_tokens = estimate_tokens(_prompt_text(body))
    completion_tokens = estimate_tokens(reply_text)
    # Deterministic id: a test comparing two runs sees the same response.
    conversation = hashlib.sha256(json.dumps(body["messages"], sort_keys=True).encode()).hexdigest()[:24]
    payload = {
        "id": f"chatcmpl-scripted-{conversation}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": script.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if turn.tool_calls else "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if turn.usage is None
        else turn.usage,
        "system_fingerprint": "retrofit-scripted",
    }
    if turn.omit_usage:
        del payload["usage"]
    return JSONResponse(payload, headers={SCRIPTED_HEADER: "true"})


def create_app(state: ScriptedState) -> Starlette:
    async def chat_completions(request: Request) -> Response:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {state.api_key}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return _error(
                401, "Incorrect API key provided.", kind="invalid_request_error", code="invalid_api_key"
            )
        try:
            body: Any = json.loads(await request.body())
        except ValueError:
            return _invalid("the request body is not valid JSON")
        with state.lock:
            state.requests.append({"body": body})
        fault = state.take_fault()
        if fault is not None:
            headers = {SCRIPTED_HEADER: "true"}
            if fault.retry_after is not None:
                headers["retry-after"] = f"{fault.retry_after:g}"
            kind = "rate_limit_exceeded" if fault.status == 429 else "server_error"
            error = {
                "error": {
                    "message": f"injected fault {fault.status}",
                    "type": kind,
                    "param": None,
                    "code": None,
                }
            }
            return JSONResponse(error, status_code=fault.status, headers=headers)
        problem = _request_problem(body)
        if problem is not None:
            return _invalid(*problem)
        script = state.script_for(body["model"])
        timing = await state.paced(body["model"], _turn_index(body, script), _turn_delay(body, script))
        response = _completion(body, script)
        response.headers[QUEUE_WAIT_HEADER] = f"{timing.queue_wait_ms:g}"
        response.headers[SERVICE_HEADER] = f"{timing.service_ms:g}"
        return response

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def faults(request: Request) -> Response:
        try:
            fault = Fault.model_validate_json(await request.body())
        except ValidationError as exc:
            return JSONResponse({"detail": exc.errors(include_url=False)}, status_code=422)
        with state.lock:
            state.faults.append(fault)
        return JSONResponse({"queued": len(state.faults)})

    async def requests(_: Request) -> Response:
        with state.lock:
            return JSONResponse(list(state.requests))

    async def replace_script(request: Request) -> Response:
        try:
            script = Script.model_validate_json(await request.body())
        except ValidationError as exc:
            return JSONResponse({"detail": exc.errors(include_url=False)}, status_code=422)
        with state.lock:
            state.script = script
        return JSONResponse({"turns": len(script.turns), "model": script.model})

    async def add_script(request: Request) -> Response:
        try:
            script = Script.model_validate_json(await request.body())
        except ValidationError as exc:
            return JSONResponse({"detail": exc.errors(include_url=False)}, status_code=422)
        with state.lock:
            state.named[script.model] = script
        return JSONResponse({"turns": len(script.turns), "model": script.model})

    async def reset(_: Request) -> Response:
        state.reset()
        return JSONResponse({"status": "reset"})

    async def pacing(request: Request) -> Response:
        try:
            paced = Pacing.model_validate_json(await request.body())
        except ValidationError as exc:
            # Without the input: a body that is not JSON would be bytes, which JSON cannot carry.
            return JSONResponse(
                {"detail": exc.errors(include_url=False, include_input=False)}, status_code=422
            )
        state.set_pacing(paced)
        return JSONResponse(paced.model_dump(mode="json"))

    async def timings(_: Request) -> Response:
        with state.lock:
            return JSONResponse([t.model_dump(mode="json") for t in state.timings])

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/_admin/health", health, methods=["GET"]),
            Route("/_admin/faults", faults, methods=["POST"]),
            Route("/_admin/requests", requests, methods=["GET"]),
            Route("/_admin/script", replace_script, methods=["PUT"]),
            Route("/_admin/scripts", add_script, methods=["POST"]),
            Route("/_admin/reset", reset, methods=["POST"]),
            Route("/_admin/pacing", pacing, methods=["PUT"]),
            Route("/_admin/timings", timings, methods=["GET"]),
        ]
    )


class ScriptedModelServer(ThreadedUvicorn):
    """The scripted server on a background thread; `base_url` is what an OpenAI client needs."""

    def __init__(
        self,
        script: Script | None = None,
        *,
        api_key: str = DEFAULT_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        pacing: Pacing | None = None,
    ) -> None:
        self.state = ScriptedState(script or Script(), api_key)
        if pacing is not None:
            self.state.set_pacing(pacing)
        super().__init__(
            create_app(self.state), name="scripted-model", host=host, port=port, health_path="/_admin/health"
        )

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--script", type=Path, help="a Script as JSON (default: no turns)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--api-key", default=DEFAULT_KEY)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per request (Pacing)")
    parser.add_argument(
        "--delay-distribution", choices=["fixed", "uniform", "exponential", "lognormal"], default="fixed"
    )
    parser.add_argument("--delay-spread", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, help="requests served at once; the rest queue")
    args = parser.parse_args(argv)
    script = Script.from_file(args.script) if args.script else Script()
    state = ScriptedState(script, args.api_key)
    state.set_pacing(
        Pacing(
            delay_seconds=args.delay,
            distribution=args.delay_distribution,
            spread=args.delay_spread,
            seed=args.seed,
            concurrency=args.concurrency,
        )
    )
    state.named[script.model] = script
    serve_foreground(
        create_app(state),
        host=args.host,
        port=args.port,
        banner=f"scripted model server ({script.model}, {len(script.turns)} turns)",
        path="/v1",
    )


if __name__ == "__main__":
    main()
