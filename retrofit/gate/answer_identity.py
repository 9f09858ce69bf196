"""Who answered, and who started: the verified identity every approval rule compares.

An answer (the `decide` Update, the `approve` / `reject` Signals, the `resolve_failure` Update)
counts only with an assertion the identity service signed (`retrofit.identity.tokens`), verified
here against the keys pinned with the policy and the workflow's own clock, and bound to this
workflow, this request, the request's full argument hash and the decision. Every rule — may
answer, the two-person rule, "already approved", requester != approver — compares the verified,
normalised subject; the payload's `approver` and the gRPC identity are recorded as claims only.
Each assertion (its `jti`) is accepted once per workflow id, across continue-as-new.

The starter is verified from the start's `retrofit-starter` header (see
`retrofit.identity.starter_header`), against the time the workflow started; absent or invalid,
it is `unverified` — recorded so, never guessed.

`trusted-namespace` mode (explicit, off by default) takes the payload's `approver` as typed and
labels everything it touches UNVERIFIED.

Deterministic: stdlib, pydantic and `temporalio.workflow` only (token verification is a pure
function of the token, the pin and the time given).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio import workflow

from retrofit.gate.approval_models import ARGS_HASH_PATTERN, UNVERIFIED_LABEL, SignedAnswer
from retrofit.identity.claims import normalise_subject
from retrofit.identity.pin import IdentityMode, IdentityPin
from retrofit.identity.tokens import IdentityRefused, verify_answer, verify_start

#: The `workflow.patched` id of verified answers: a history recorded before it replays its
#: answers as they were accepted then (names from the payload); every new answer is verified.
PATCH_ID = "retrofit-verified-identity-2"
#: The same decision for a run that began before verified identity, at its first new answer.
LATE_PATCH_ID = "retrofit-verified-identity-late-1"

#: The start header carrying the starter's assertion, and the one a run hands to its
#: continuation (the original assertion and the time it was verified at).
STARTER_HEADER = "retrofit-starter"
CARRIED_HEADER = "retrofit-starter-carried"

#: After this many recorded refusals in one run, further refused answers are rejected without a
#: record (Updates: by the validator, so they never enter history; Signals: ignored), so a
#: flood of garbage cannot grow the history and the audit trail without bound.
REFUSAL_CAP = 100

UNVERIFIED_STARTER = "unverified"
_FULL_HASH = re.compile(ARGS_HASH_PATTERN.strip("^$"))


class AnswerRefused(Exception):
    """An answer that does not count; the message says why, for the sender and the audit trail."""

    def __init__(self, message: str, answerer: Answerer | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.answerer = answerer


@dataclass(frozen=True)
class Answerer:
    """The person an answer counts for."""

    subject: str  # normalised: what every rule compares
    verified: bool
    claimed: str = ""  # the payload's `approver`, as typed (a label, never trusted when verified)
    groups: tuple[str, ...] = ()  # verified groups (the identity service's, normalised)
    login: str = ""  # how the person logged in ("password", "oidc", ...)
    jti: str = ""
    legacy: bool = False  # replaying a history from before verified identity: the name as typed

    @property
    def display(self) -> str:
        """How records, views and the CLI name this person."""
        if self.verified or self.legacy:
            return self.subject
        return f"{self.subject} [{UNVERIFIED_LABEL}]"

    def record(self) -> dict[str, Any]:
        """The audit trail's view: who, how, which assertion (by hash) — never the token."""
        if self.legacy:
            return {"verified": False, "mode": "recorded before verified identity"}
        if not self.verified:
            return {"verified": False, "mode": UNVERIFIED_LABEL, "claimed_approver": self.claimed}
        return {
            "verified": True,
            "subject": self.subject,
            "groups": list(self.groups),
            "login": self.login,
            "jti_sha256": hashlib.sha256(self.jti.encode()).hexdigest(),
            "claimed_approver": self.claimed,
        }


@dataclass(frozen=True)
class Starter:
    subject: str  # normalised subject, or "unverified"
    verified: bool
    login: str = ""
    problem: str = ""  # why an assertion that was sent did not verify

    def record(self) -> dict[str, Any]:
        data: dict[str, Any] = {"subject": self.subject, "verified": self.verified}
        if self.login:
            data["login"] = self.login
        if self.problem:
            data["problem"] = self.problem
        return data


@dataclass
class IdentityBook:
    """Per-run identity state (kept in `GateState`)."""

    starter_token: str = ""  # from the start header, verified once the pin is known
    carried: dict[str, Any] | None = None  # from the previous run of this workflow id
    started_by: Starter | None = None
    used_jtis: set[str] = field(default_factory=set)
    refusals: int = 0
    verified: bool = False  # this run began with verified identity (`begin_run`)


def identity_book() -> IdentityBook:
    from retrofit.gate.state import gate_state

    return gate_state().identity


def begin_run() -> None:
    """At the very start of every run (the interceptor, before any other command): whether this
    run verifies answers. Decided first thing, so the patch marker never lands beside a local
    activity's marker in one workflow task (replay then mis-pairs them)."""
    identity_book().verified = workflow.patched(PATCH_ID)


def verified_identity_in_force() -> bool:
    """For an answer: False only while replaying an answer a run from before verified identity
    accepted. A run that began before the upgrade and is answered after it verifies too (the late
    patch marks the point), so an upgrade never leaves a typed name trusted."""
    return identity_book().verified or workflow.patched(LATE_PATCH_ID)


def requests_verified() -> bool:
    """For a new request: whether this run began with verified identity (no marker written)."""
    return identity_book().verified


def current_pin() -> IdentityPin:
    from retrofit.gate.state import pinned_identity

    return pinned_identity()


# --- answers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerContext:
    """What weighing an answer depends on, besides the answer and the request: in a workflow
    `answer_context()`; the checks themselves are pure (the fuzz tests call them directly)."""

    workflow_id: str
    now: datetime
    pin: IdentityPin
    starter: Starter
    operator_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    used_jtis: frozenset[str] = frozenset()


def answer_context() -> AnswerContext:
    from retrofit.gate.state import operator_groups

    return AnswerContext(
        workflow_id=workflow.info().workflow_id,
        now=workflow.now(),
        pin=current_pin(),
        starter=started_by(),
        operator_groups=operator_groups(),
        used_jtis=frozenset(identity_book().used_jtis),
    )


def identify(
    answer: SignedAnswer, decision: str, *, request_id: str, args_hash: str, context: AnswerContext
) -> Answerer:
    """The person `answer` counts for, or `AnswerRefused` saying why it does not count.

    Read-only (a validator may call it); `accept` spends the assertion once an answer counts.
    """
    pin = context.pin
    claimed = answer.approver
    if answer.workflow_id and answer.workflow_id != context.workflow_id:
        raise AnswerRefused(
            f"the answer names workflow {answer.workflow_id!r}, not this one ({context.workflow_id!r})",
            _claimant(claimed),
        )
    if not _FULL_HASH.fullmatch(answer.args_hash):
        raise AnswerRefused(
            f"the argument hash must be the full 64-character hash shown for request {request_id} "
            f"({args_hash}), exactly as shown (got {len(answer.args_hash)} characters)",
            _claimant(claimed),
        )
    if answer.args_hash != args_hash:
        raise AnswerRefused(
            f"argument hash {answer.args_hash!r} does not match request {request_id} "
            f"({args_hash}): the arguments are not the ones you reviewed",
            _claimant(claimed),
        )
    if pin.mode is IdentityMode.TRUSTED_NAMESPACE:
        subject = normalise_subject(claimed)
        if not subject:
            raise AnswerRefused(f"{UNVERIFIED_LABEL}: name the approver in `approver`")
        return Answerer(subject=subject, verified=False, claimed=claimed)
    try:
        claims = verify_answer(
            answer.assertion,
            pin,
            now=context.now,
            workflow_id=context.workflow_id,
            request_id=request_id,
            args_hash=args_hash,
            decision=decision,
        )
    except IdentityRefused as exc:
        raise AnswerRefused(f"{exc}{_login_hint(pin)}", _claimant(claimed)) from None
    answerer = Answerer(
        subject=normalise_subject(claims.sub),
        verified=True,
        claimed=claimed,
        groups=tuple(normalise_subject(g) for g in claims.groups),
        login=claims.via,
        jti=claims.jti,
    )
    if claims.jti in context.used_jtis:
        raise AnswerRefused(
            f"this signed answer was already used (assertion {claims.jti[:8]}…): each answer is "
            f"accepted once; ask the identity service for a new one{_login_hint(pin)}",
            answerer,
        )
    return answerer


def accept(answerer: Answerer) -> None:
    """Spend the assertion: the same signed answer never counts again in this workflow id."""
    if answerer.jti:
        identity_book().used_jtis.add(answerer.jti)


def may_answer(
    answerer: Answerer,
    names: tuple[str, ...],
    groups: tuple[str, ...],
    operator_groups: dict[str, tuple[str, ...]],
) -> bool:
    """Whether the policy lets this person answer: a listed name, a listed group among the
    person's verified groups, or a listed group whose members the operator's pinned policy names.
    Nothing listed: anyone (verified). Compared normalised."""
    if not names and not groups:
        return True
    subject = answerer.subject
    if subject in {normalise_subject(n) for n in names}:
        return True
    wanted = {normalise_subject(g) for g in groups}
    if answerer.verified and wanted & set(answerer.groups):
        return True
    return any(subject in {normalise_subject(m) for m in operator_groups.get(g, ())} for g in groups)


def within_cap() -> bool:
    """Whether one more refusal may still be recorded in this run."""
    return identity_book().refusals < REFUSAL_CAP


def count_refusal() -> int:
    book = identity_book()
    book.refusals += 1
    return book.refusals


def _claimant(claimed: str) -> Answerer | None:
    subject = normalise_subject(claimed)
    return Answerer(subject=subject, verified=False, claimed=claimed) if subject else None


def _login_hint(pin: IdentityPin) -> str:
    return f" (log in at {pin.login_url})" if pin.login_url else ""


def login_hint() -> str:
    return _login_hint(current_pin())


# --- the starter ---------------------------------------------------------------------------


def started_by() -> Starter:
    """Who started this workflow, verified once per run (needs the pin: call after pinning)."""
    book = identity_book()
    if book.started_by is None:
        book.started_by = _verify_starter(book)
    return book.started_by


def carry_header() -> dict[str, Any] | None:
    """What this run hands to its continuation: the starter's assertion and the time it was
    verified at (re-verified there), and the assertions already spent."""
    book = identity_book()
    token, at = _starter_source(book)
    if not token and not book.used_jtis:
        return None
    return {"token": token, "at": at.isoformat() if at else "", "used_jtis": sorted(book.used_jtis)}


def _starter_source(book: IdentityBook) -> tuple[str, datetime | None]:
    info = workflow.info()
    carried = book.carried
    if carried is not None and info.continued_run_id and isinstance(carried.get("token"), str):
        try:
            return carried["token"], datetime.fromisoformat(str(carried.get("at", "")))
        except ValueError:
            return "", None
    return book.starter_token, info.start_time


def _verify_starter(book: IdentityBook) -> Starter:
    info = workflow.info()
    pin = current_pin()
    token, at = _starter_source(book)
    if pin.mode is IdentityMode.TRUSTED_NAMESPACE or not token or at is None:
        return Starter(subject=UNVERIFIED_STARTER, verified=False)
    try:
        claims = verify_start(
            token, pin, now=at, workflow_id=info.workflow_id, workflow_type=info.workflow_type
        )
    except IdentityRefused as exc:
        return Starter(subject=UNVERIFIED_STARTER, verified=False, problem=str(exc))
    return Starter(subject=normalise_subject(claims.sub), verified=True, login=claims.via)


def take_carried(carried: dict[str, Any] | None) -> None:
    """Keep what the previous run handed on (only a continuation may hand anything on)."""
    if carried is None or not workflow.info().continued_run_id:
        return
    book = identity_book()
    book.carried = carried
    used = carried.get("used_jtis")
    if isinstance(used, list):
        book.used_jtis.update(j for j in used if isinstance(j, str))
