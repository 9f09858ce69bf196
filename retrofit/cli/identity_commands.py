"""`retrofit login | logout | whoami` (people) and `retrofit identity ...` (operators).

retrofit login alice              # prompts for the password; caches a session (0600)
retrofit identity add-user frank --group finance
retrofit identity show-pin        # RETROFIT_IDENTITY_PUBLIC_KEYS for production workers
"""

from __future__ import annotations

import getpass
import os
import sys

import httpx
import typer

from retrofit.cli.identity_client import (
    PASSWORD_ENV,
    IdentityClient,
    IdentityError,
    load_session,
    read_password,
    save_session,
    service_url,
    session_file,
)
from retrofit.cli.output import console, fail, run_async
from retrofit.identity.directory import Directory, DirectoryError, directory_path
from retrofit.identity.keys import IdentityKeyError, show_pin_json
from retrofit.settings import RetrofitSettings

app = typer.Typer(help="The identity service's users and keys (operators).", no_args_is_help=True)


def login(name: str = typer.Argument(..., help="Your user name in the identity directory.")) -> None:
    """Log in to the identity service; later answers and starts are signed as you."""
    settings = RetrofitSettings()

    async def go() -> None:
        password = read_password(name)
        reply = await IdentityClient(settings).open_session(name, password)
        path = save_session(settings, reply)
        groups = ", ".join(reply.get("groups", [])) or "none"
        console.print(
            f"logged in as [bold]{reply['subject']}[/] (groups: {groups}) until {reply['expires_at'][:19]} UTC"
        )
        console.print(f"session cached in {path}")

    run_async(go(), IdentityError)


def logout() -> None:
    """End the cached session (at the identity service too)."""
    settings = RetrofitSettings()
    cached = load_session(settings)
    path = session_file(settings)
    if cached is not None:
        try:
            httpx.post(
                f"{service_url(settings)}/identity/logout",
                headers={"Authorization": f"Bearer {cached['session']}"},
                timeout=5,
            )
        except httpx.TransportError:
            console.print("identity service unreachable: the cached session is removed here only")
    path.unlink(missing_ok=True)
    console.print("logged out" + (f" ({cached['subject']})" if cached else ""))


def whoami() -> None:
    """Who the identity service says you are (from the cached session)."""
    cached = load_session(RetrofitSettings())
    if cached is None:
        fail("not logged in: run `retrofit login YOUR_NAME`")
        return
    console.print(f"{cached['subject']} (session until {cached['expires_at'][:19]} UTC)")


@app.command("add-user")
def add_user(
    name: str = typer.Argument(..., help="Login name (stored normalised: case and width folded)."),
    group: list[str] = typer.Option([], "--group", "-g", help="A group the user is in (repeat)."),
    display_name: str = typer.Option("", "--name", help="Display name for the audit trail."),
) -> None:
    """Add (or replace) a user of the local directory; prompts for the password twice."""
    settings = RetrofitSettings()
    password = _new_password()
    try:
        subject = Directory(directory_path(settings)).add_user(
            name, password, name=display_name, groups=tuple(group)
        )
    except DirectoryError as exc:
        fail(str(exc))
        return
    console.print(f"added {subject} (groups: {', '.join(group) or 'none'}) to {directory_path(settings)}")


@app.command("remove-user")
def remove_user(name: str = typer.Argument(...)) -> None:
    """Remove a user; their sessions stop working at once."""
    settings = RetrofitSettings()
    try:
        removed = Directory(directory_path(settings)).remove_user(name)
    except DirectoryError as exc:
        fail(str(exc))
        return
    if not removed:
        fail(f"no user {name!r} in {directory_path(settings)}")
    console.print(f"removed {name}")


@app.command("show-pin")
def show_pin() -> None:
    """Print the identity service's public keys as JSON: RETROFIT_IDENTITY_PUBLIC_KEYS for workers."""
    try:
        text = show_pin_json(RetrofitSettings())
    except IdentityKeyError as exc:
        fail(str(exc))
        return
    print(text)


def _new_password() -> str:
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        fail(f"no terminal to ask for the password: set {PASSWORD_ENV} for this command")
    first = getpass.getpass("new password: ")
    if first != getpass.getpass("again: "):
        fail("the passwords differ")
    if len(first) < 8:
        fail("a password needs at least 8 characters")
    return first


def register(root: typer.Typer) -> None:
    root.command()(login)
    root.command()(logout)
    root.command()(whoami)
    root.add_typer(app, name="identity")
