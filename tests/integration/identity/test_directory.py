"""The local user directory: hashed passwords, normalised names, one answer for every failure."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from retrofit.embedded.identity_server import DEMO_DIRECTORY, DEMO_USERS, demo_password
from retrofit.identity.directory import Directory, DirectoryError, LoginFailed, check_password, hash_password


def test_demo_directory_holds_the_documented_users_hashed() -> None:
    directory = Directory(DEMO_DIRECTORY)
    text = DEMO_DIRECTORY.read_text()
    for user, groups in DEMO_USERS.items():
        verified = directory.authenticate(user, demo_password(user))
        assert (verified.subject, verified.groups) == (user, groups)
        assert demo_password(user) not in text, "demo passwords are stored hashed only"
    assert "DEMO ONLY" in text


def test_names_are_one_person_however_spelled() -> None:
    directory = Directory(DEMO_DIRECTORY)
    for spelling in ("ALICE", " alice ", "Ａｌｉｃｅ"):
        assert directory.authenticate(spelling, "demo-alice").subject == "alice"


def test_unknown_user_and_wrong_password_are_the_same_answer() -> None:
    directory = Directory(DEMO_DIRECTORY)
    with pytest.raises(LoginFailed) as wrong:
        directory.authenticate("alice", "demo-bob")
    with pytest.raises(LoginFailed) as unknown:
        directory.authenticate("mallory", "demo-alice")
    assert str(wrong.value) == str(unknown.value) == "unknown user or wrong password"
    with pytest.raises(LoginFailed):
        directory.authenticate("", "")
    with pytest.raises(LoginFailed):
        directory.authenticate("alice", "demo-alice" + "x" * 5000)


def test_unknown_user_costs_a_hash_too() -> None:
    """An unknown name is not answered faster than a wrong password (no probing for names)."""
    directory = Directory(DEMO_DIRECTORY)

    def timed(user: str) -> float:
        best = float("inf")
        for _ in range(3):
            began = time.perf_counter()
            with pytest.raises(LoginFailed):
                directory.authenticate(user, "nope")
            best = min(best, time.perf_counter() - began)
        return best

    known, unknown = timed("alice"), timed("nobody-here")
    assert unknown > known / 3, (known, unknown)


def test_add_user_writes_a_private_file_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "identity" / "users.toml"
    directory = Directory(path)
    assert directory.add_user("Frank", "s3cret!", name="Frank F", groups=("Finance", " OPS ")) == "frank"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "s3cret!" not in path.read_text()
    fresh = Directory(path)
    user = fresh.authenticate("frank", "s3cret!")
    assert (user.name, user.groups) == ("Frank F", ("finance", "ops"))
    # A second process's change is picked up (sessions re-read the directory).
    Directory(path).remove_user("FRANK")
    assert fresh.get("frank") is None


def test_malformed_directory_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    path.write_text('[users.alice]\npassword = "plaintext"\n')
    with pytest.raises(DirectoryError, match="alice"):
        Directory(path).authenticate("alice", "plaintext")
    path.write_text(
        f'[users.alice]\npassword = "{hash_password("x")}"\n[users.ALICE]\npassword = "{hash_password("y")}"\n'
    )
    with pytest.raises(DirectoryError, match="twice"):
        Directory(path).users()


def test_hash_check_round_trip_and_garbage() -> None:
    encoded = hash_password("pässwörd")
    assert check_password("pässwörd", encoded)
    assert not check_password("passwort", encoded)
    assert not check_password("x", "scrypt$bad")
