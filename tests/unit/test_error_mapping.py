from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ValidationError

from retrofit.execution.error_mapping import classify
from retrofit.sdk import (
    ActionInputError,
    AuthError,
    Delivery,
    NonRetryableError,
    NotSentError,
    OutcomeUnknownError,
    RetryableError,
)


class M(BaseModel):
    n: int


def test_each_branch_of_the_error_tree_maps_once() -> None:
    retry = classify(
        RetryableError("503", retry_after=timedelta(seconds=7), details="busy")
    ).to_application_error()
    assert (retry.type, retry.non_retryable, retry.next_retry_delay) == (
        "Retryable",
        False,
        timedelta(seconds=7),
    )
    # A plain RetryableError does not say whether the request left: it may have landed.
    assert retry.details == ({"delivery": "unknown", "details": "busy"},)
    for exc, type_ in (
        (AuthError("401"), "AuthError"),
        (ActionInputError("400"), "ActionInputError"),
        (NonRetryableError("gone"), "NonRetryable"),
    ):
        app = classify(exc).to_application_error()
        assert (app.type, app.non_retryable) == (type_, True)


def test_bad_output_fails_at_once_and_bugs_retry_within_bounds() -> None:
    try:
        M.model_validate({"n": "x"})
    except ValidationError as exc:
        invalid = classify(exc)
    assert (invalid.type, invalid.retryable) == ("InvalidOutput", False)
    assert "n: Input should be a valid integer" in invalid.message
    bug = classify(KeyError("boom"))
    assert (bug.type, bug.retryable) == ("UnexpectedError", True)
    assert bug.message.startswith("KeyError")


def test_long_messages_are_truncated() -> None:
    assert len(classify(NonRetryableError("x" * 5000)).message) == 500


def test_each_error_says_what_it_proves_about_the_effect() -> None:
    """`delivery` crosses to the workflow in the details; "unknown" is never silently dropped."""
    cases = [
        (NotSentError("refused"), Delivery.NOT_SENT),
        (OutcomeUnknownError("dropped after sending"), Delivery.UNKNOWN),
        (RetryableError("503", delivery=Delivery.ANSWERED), Delivery.ANSWERED),
        (RetryableError("no word on it"), Delivery.UNKNOWN),
        (ActionInputError("400"), Delivery.ANSWERED),
        (AuthError("401"), Delivery.ANSWERED),
        (ConnectionRefusedError("no listener"), Delivery.NOT_SENT),
        (TimeoutError("slow"), Delivery.UNKNOWN),
        (KeyError("bug"), Delivery.UNKNOWN),
    ]
    for exc, expected in cases:
        classified = classify(exc)
        assert classified.delivery is expected, exc
        details = classified.to_application_error().details[0]
        assert details["delivery"] == expected.value
        assert "outcome" not in details  # only the action activity, which knows the past, says it
    try:
        M.model_validate({"n": "x"})
    except ValidationError as exc:
        # The system answered a write with something unreadable: it may well have landed.
        assert classify(exc).delivery is Delivery.UNKNOWN
    marked = classify(OutcomeUnknownError("lost"))
    from dataclasses import replace

    assert replace(marked, outcome_unknown=True).to_application_error().details[0]["outcome"] == "unknown"
