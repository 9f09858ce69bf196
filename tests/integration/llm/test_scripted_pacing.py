"""The scripted server's opt-in pacing: a per-request delay and a concurrency limit past which
requests queue, the way a local model server serves one request at a time. Correctness, not
timing precision: who waited, how many were served at once, which delays were drawn."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from retrofit.llm.scripted_server import (
    QUEUE_WAIT_HEADER,
    SERVICE_HEADER,
    Pacing,
    Script,
    ScriptedModelServer,
    ScriptedTurn,
)

KEY = "pacing-test-key"
MODEL = "pacing-scripted"
SCRIPT = Script(model=MODEL, turns=[ScriptedTurn(content="ok")])


def chat(user: str) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": user}]}


async def four_at_once(server: ScriptedModelServer) -> list[httpx.Response]:
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {KEY}"}, timeout=10) as http:
        return await asyncio.gather(
            *(http.post(f"{server.base_url}/chat/completions", json=chat(f"q{i}")) for i in range(4))
        )


async def timings(server: ScriptedModelServer) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.get(f"{server.url}/_admin/timings")
        answer.raise_for_status()
        found: list[dict[str, Any]] = answer.json()
        return found


async def test_four_requests_under_a_limit_of_one_queue_behind_each_other() -> None:
    pacing = Pacing(delay_seconds=0.15, concurrency=1)
    with ScriptedModelServer(SCRIPT, api_key=KEY, pacing=pacing) as server:
        answers = await four_at_once(server)
        recorded = await timings(server)

    assert [a.status_code for a in answers] == [200] * 4
    assert all(a.json()["choices"][0]["message"]["content"] == "ok" for a in answers)
    assert len(recorded) == 4
    # One at a time: never two served together, and every one after the first waited.
    assert all(t["serving"] == 1 for t in recorded)
    waits = sorted(t["queue_wait_ms"] for t in recorded)
    assert all(w > 0 for w in waits[1:]), waits
    # The last one waited for (at least most of) the three served before it.
    assert waits[-1] > 2 * 150 * 0.8, waits
    assert all(t["delay_ms"] == 150 for t in recorded)
    assert all(t["service_ms"] >= 150 for t in recorded)
    # Each answer says its own queue wait and service time.
    assert sorted(float(a.headers[QUEUE_WAIT_HEADER]) for a in answers) == waits
    assert all(float(a.headers[SERVICE_HEADER]) >= 150 for a in answers)


async def test_without_pacing_nothing_queues_and_requests_are_served_together() -> None:
    with ScriptedModelServer(SCRIPT, api_key=KEY) as server:
        # A limit of two set while running, through the admin endpoint, then lifted again.
        async with httpx.AsyncClient(timeout=5) as http:
            put = await http.put(f"{server.url}/_admin/pacing", json={"delay_seconds": 0.1, "concurrency": 2})
            assert put.status_code == 200
        await four_at_once(server)
        limited = await timings(server)
        async with httpx.AsyncClient(timeout=5) as http:
            await http.post(f"{server.url}/_admin/reset")
            await http.put(f"{server.url}/_admin/pacing", json={"delay_seconds": 0.1})
        await four_at_once(server)
        unlimited = await timings(server)

    assert max(t["serving"] for t in limited) == 2
    assert sum(1 for t in limited if t["queue_wait_ms"] > 0) >= 2
    assert len(unlimited) == 4
    assert all(t["queue_wait_ms"] == 0 for t in unlimited)
    assert max(t["serving"] for t in unlimited) > 1  # all four slept at the same time


async def test_the_default_server_adds_no_delay_and_reports_zero_queue_wait() -> None:
    with ScriptedModelServer(SCRIPT, api_key=KEY) as server:
        answers = await four_at_once(server)
        recorded = await timings(server)
    assert all(float(a.headers[QUEUE_WAIT_HEADER]) == 0 for a in answers)
    assert all(t["delay_ms"] == 0 and t["queue_wait_ms"] == 0 for t in recorded)


@pytest.mark.parametrize("distribution", ["uniform", "exponential", "lognormal"])
def test_drawn_delays_repeat_for_a_seed_and_stay_in_bounds(distribution: str) -> None:
    pacing = Pacing.model_validate({"delay_seconds": 0.2, "distribution": distribution, "seed": 7})
    first = [pacing.draw(random.Random(7)) for _ in range(1)]
    rng_a, rng_b = random.Random(7), random.Random(7)
    a = [pacing.draw(rng_a) for _ in range(200)]
    b = [pacing.draw(rng_b) for _ in range(200)]
    assert a == b and a[0] == first[0]
    assert len(set(a)) > 100  # drawn, not fixed
    assert all(0 <= d <= 60 for d in a)
    if distribution == "uniform":
        assert all(0.1 - 1e-9 <= d <= 0.3 + 1e-9 for d in a)
    # A heavy tail is capped: a huge spread cannot make a request hang for ever.
    wild = Pacing.model_validate({"delay_seconds": 60, "distribution": distribution, "spread": 3})
    rng = random.Random(1)
    assert all(0 <= wild.draw(rng) <= 60 for _ in range(500))


async def test_the_seeded_draws_reach_the_server_in_order() -> None:
    pacing = Pacing(delay_seconds=0.01, distribution="uniform", seed=42, concurrency=1)
    expected_rng = random.Random(42)
    expected = [round(pacing.draw(expected_rng) * 1000, 3) for _ in range(4)]
    with ScriptedModelServer(SCRIPT, api_key=KEY, pacing=pacing) as server:
        await four_at_once(server)
        recorded = await timings(server)
    # Under a limit of one, draws are taken one after the other: the same multiset of delays.
    assert sorted(t["delay_ms"] for t in recorded) == sorted(expected)


@pytest.mark.parametrize(
    "bad",
    [
        {"delay_seconds": -1},
        {"delay_seconds": 61},
        {"concurrency": 0},
        {"concurrency": -3},
        {"concurrency": 10**6},
        {"distribution": "pareto"},
        {"spread": -0.1},
        {"delay_seconds": "soon"},
        {"delay_seconds": float("nan")},
    ],
)
async def test_bad_pacing_is_refused_and_the_old_pacing_stays(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Pacing.model_validate(bad)
    with ScriptedModelServer(SCRIPT, api_key=KEY, pacing=Pacing(concurrency=1)) as server:
        async with httpx.AsyncClient(timeout=5) as http:
            # As text: json= refuses NaN, a hostile client need not.
            answer = await http.put(f"{server.url}/_admin/pacing", content=json.dumps(bad).encode())
            garbage = await http.put(f"{server.url}/_admin/pacing", content=b"{not json")
        assert answer.status_code == 422
        assert garbage.status_code == 422
        assert server.state.pacing.concurrency == 1


async def test_a_request_refused_before_serving_takes_no_slot() -> None:
    # A wrong key or a malformed body is answered at once, not queued behind the model's work.
    with ScriptedModelServer(SCRIPT, api_key=KEY, pacing=Pacing(delay_seconds=0.1, concurrency=1)) as server:
        async with httpx.AsyncClient(timeout=5) as http:
            wrong = await http.post(
                f"{server.base_url}/chat/completions",
                json=chat("x"),
                headers={"authorization": "Bearer nope"},
            )
            malformed = await http.post(
                f"{server.base_url}/chat/completions",
                json={"model": MODEL, "messages": []},
                headers={"authorization": f"Bearer {KEY}"},
            )
        recorded = await timings(server)
    assert wrong.status_code == 401 and malformed.status_code == 400
    assert recorded == []


async def test_clients_that_give_up_while_queued_do_not_leak_a_slot() -> None:
    # Five clients time out waiting behind a slow request; the queue must still drain and serve
    # the next one (a lost slot would hang every later request under a limit of one).
    pacing = Pacing(delay_seconds=0.2, concurrency=1)
    with ScriptedModelServer(SCRIPT, api_key=KEY, pacing=pacing) as server:
        url = f"{server.base_url}/chat/completions"
        headers = {"authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(headers=headers, timeout=0.05) as impatient:
            gave_up = await asyncio.gather(
                *(impatient.post(url, json=chat(f"q{i}")) for i in range(5)), return_exceptions=True
            )
        assert all(isinstance(g, httpx.TimeoutException) for g in gave_up)
        async with httpx.AsyncClient(headers=headers, timeout=10) as patient:
            answer = await patient.post(url, json=chat("later"))
        recorded = await timings(server)
    assert answer.status_code == 200
    assert all(t["serving"] == 1 for t in recorded)
