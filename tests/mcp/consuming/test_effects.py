from retrofit.mcp.consuming.effects import effect_from_annotations, resolve_effect
from retrofit.sdk.effect import Effect


def test_unannotated_tool_is_write() -> None:
    assert effect_from_annotations(None) is Effect.WRITE
    assert effect_from_annotations({}) is Effect.WRITE


def test_annotations_are_the_default() -> None:
    assert effect_from_annotations({"readOnlyHint": True}) is Effect.READ
    assert effect_from_annotations({"destructiveHint": True}) is Effect.DESTRUCTIVE
    assert effect_from_annotations({"readOnlyHint": False, "destructiveHint": False}) is Effect.WRITE


def test_a_truthy_non_bool_hint_does_not_make_a_tool_read() -> None:
    assert effect_from_annotations({"readOnlyHint": "yes"}) is Effect.WRITE


def test_operator_word_is_final() -> None:
    assert resolve_effect({"readOnlyHint": True}, Effect.DESTRUCTIVE) is Effect.DESTRUCTIVE
    assert resolve_effect(None, Effect.READ) is Effect.READ
    assert resolve_effect(None, None) is Effect.WRITE
