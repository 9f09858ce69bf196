from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ValidationError

from retrofit.execution.error_mapping import classify
from retrofit.sdk import ActionInputError, AuthError, NonRetryableError, RetryableError


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
    assert retry.details == ({"details": "busy"},)
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
