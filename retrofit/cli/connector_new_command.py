"""`retrofit connectors new NAME --from-openapi SPEC | --from-wsdl WSDL | --from-db URL`: a connector
package generated from the legacy system's own description, for an integrator to review and commit.

The readers live in `connectors.scaffold.<source>` and are imported when the command runs (each
pulls in its own stack: YAML, zeep, SQLAlchemy). Every failure an integrator can cause (a bad
name, a missing or unreadable description, an existing directory) is one line, never a traceback.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from retrofit.cli.output import console, fail

if TYPE_CHECKING:
    from connectors.scaffold.package import GeneratedPackage

# A connector name is an entry point name, a package prefix (`<name>_connector`) and an
# environment variable prefix (`RETROFIT_<NAME>_`): lower-case letters, digits, underscores.
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def register(app: typer.Typer) -> None:
    app.command("new")(new_connector)


def new_connector(
    name: str = typer.Argument(..., help="The connector name: lower-case letters, digits and _ (e.g. xero)."),
    from_openapi: str | None = typer.Option(
        None, "--from-openapi", help="An OpenAPI 3.0/3.1 file (YAML or JSON)."
    ),
    from_wsdl: str | None = typer.Option(None, "--from-wsdl", help="A WSDL file (with its XSDs beside it)."),
    from_db: str | None = typer.Option(None, "--from-db", help="A database URL (SQLAlchemy form)."),
    out: Path | None = typer.Option(
        None, "--out", help="Where to write the package. Default: ./NAME-connector."
    ),
    operations: str | None = typer.Option(
        None,
        "--operations",
        help="Comma-separated globs of operations to generate (id, path or tag). Default: all.",
    ),
    tables: str | None = typer.Option(
        None, "--tables", help="--from-db: globs of tables/views to read. Default: all."
    ),
    writes: str | None = typer.Option(
        None, "--writes", help="--from-db: globs of tables that also get write actions. Default: none."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite a non-empty output directory."),
) -> None:
    """Generate a connector package from an OpenAPI file, a WSDL or a database, to review and commit."""
    if not _NAME.match(name) or name.endswith("_") or "__" in name:
        fail(
            f"connector name {name!r} must be lower-case letters, digits and single underscores, "
            "starting with a letter (at most 40 characters), e.g. xero or acme_erp"
        )
        return
    sources = {"--from-openapi": from_openapi, "--from-wsdl": from_wsdl, "--from-db": from_db}
    given = [flag for flag, value in sources.items() if value is not None]
    if len(given) != 1:
        fail(
            "give exactly one source: --from-openapi SPEC, --from-wsdl WSDL or --from-db URL"
            + (f" (got {' and '.join(given)})" if given else "")
        )
        return
    if from_db is None and (tables or writes):
        fail("--tables and --writes apply to --from-db only")
        return
    if from_db is not None and operations:
        fail("--operations applies to --from-openapi and --from-wsdl; use --tables for a database")
        return
    target = out if out is not None else Path(f"{name}-connector")
    if target.exists() and not target.is_dir():
        fail(f"--out {escape(str(target))} is a file, not a directory")
        return
    taken = _installed_connector(name)
    if taken is not None and not force:
        # Two plugins with one name break every worker's catalog; regenerating your own is --force.
        fail(
            f"a connector named {name!r} is already installed ({escape(taken)}); choose another NAME or pass --force"
        )
        return

    from connectors.scaffold.errors import SourceError
    from connectors.scaffold.selection import Selection
    from connectors.scaffold.writer import PackageExistsError, write_package

    started = time.perf_counter()
    try:
        if from_openapi is not None:
            from connectors.scaffold.openapi import read_openapi

            package = read_openapi(name, from_openapi, Selection.parse(operations))
        elif from_wsdl is not None:
            from connectors.scaffold.wsdl import read_wsdl  # type: ignore[import-not-found,attr-defined,unused-ignore]

            package = read_wsdl(name, from_wsdl, Selection.parse(operations))
        else:
            assert from_db is not None
            from connectors.scaffold.database import (  # type: ignore[import-not-found,attr-defined,unused-ignore]
                read_database,
            )

            package = read_database(name, from_db, Selection.parse(tables), Selection.parse(writes))
        written = write_package(package, target, overwrite=force)
    except (SourceError, PackageExistsError) as exc:
        fail(escape(str(exc)))
        return
    except OSError as exc:
        fail(escape(f"cannot write {target}: {exc.strerror or exc}"))
        return
    except ImportError as exc:
        # A reader not installed (or its optional stack missing): say which, not a traceback.
        fail(escape(f"this source needs a module that is not installed: {exc.name or exc}"))
        return
    _report(package, target, len(written), time.perf_counter() - started)


def _installed_connector(name: str) -> str | None:
    from importlib.metadata import entry_points

    for ep in entry_points(group="retrofit.connectors"):
        if ep.name == name:
            return f"{ep.name} = {ep.value}"
    return None


def _report(package: GeneratedPackage, target: Path, files: int, seconds: float) -> None:
    from retrofit.sdk.effect import Effect

    actions = package.actions
    counts = Counter(a.effect.effect for a in actions)
    total = len(actions) + len(package.skipped)
    console.print(
        f"[bold]wrote {escape(str(target))}[/]: {files} files, {len(actions)} actions "
        f"({counts[Effect.READ]} READ, {counts[Effect.WRITE]} WRITE, {counts[Effect.DESTRUCTIVE]} DESTRUCTIVE) "
        f"in {len(package.groups)} group(s), {len(package.skipped)} skipped of {total}, in {seconds:.1f}s"
    )
    console.print("\n[bold]Effects to review[/] (inferred, not declared by the system):")
    for effect in (Effect.DESTRUCTIVE, Effect.WRITE, Effect.READ):
        chosen = [a for a in actions if a.effect.effect is effect]
        if not chosen:
            continue
        # "name 'getUser' starts with a reading verb": count the rule, not each operation's name.
        reasons = Counter(re.sub(r"'[^']*'", "…", a.effect.reason) for a in chosen)
        why = ", ".join(f"{reason} ×{n}" for reason, n in reasons.most_common(4))
        console.print(f"  {effect.value.upper():<12} {len(chosen):>4}  ({escape(why)})")
        if effect is Effect.READ:
            console.print(
                "               READ skips approval under the default policy: check none of them changes data."
            )
    if package.skipped:
        console.print(f"\n[bold]Skipped[/] ({len(package.skipped)}; write these by hand if you need them):")
        by_reason = Counter(s.reason for s in package.skipped)
        for reason, n in by_reason.most_common():
            examples = [s.ref for s in package.skipped if s.reason == reason][:3]
            console.print(
                f"  {n:>4} × {escape(reason)}: {escape(', '.join(examples))}{', …' if n > 3 else ''}"
            )
    if package.unmatched:
        console.print("\n[bold yellow]Selection globs that matched nothing[/]:")
        for note in package.unmatched:
            console.print(f"  - {escape(note)}")
    if package.review:
        console.print("\n[bold]Review[/]:")
        for note in package.review:
            console.print(f"  - {escape(note)}")
    env = package.connector.name.upper()
    console.print(
        "\n[bold]Next[/]:\n"
        f"  pip install -e {escape(str(target))}\n"
        f"  retrofit connectors list          # {escape(package.connector.name)} and its actions; "
        f"set RETROFIT_{env}_* first (see README.md)\n"
        f"  pytest {escape(str(target / 'tests'))}   # the conformance suite\n"
        f"  then review {escape(str(target / 'README.md'))} and commit the package"
    )
