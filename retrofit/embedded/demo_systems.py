"""Where `retrofit dev --demo` gets the demo legacy systems from: the `retrofit.demo` entry point.

The framework never imports the demo systems (`legacy/`) or their connectors: a production install
runs without them. The demo registers one starter under the entry-point group `retrofit.demo`
(name `systems`), the way connectors and workflows register theirs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from retrofit.embedded.dev_server import DevServerError
from retrofit.sdk.connector import ConnectorSettings

ENTRY_POINT_GROUP = "retrofit.demo"


@dataclass(frozen=True)
class StartedDemoSystems:
    urls: dict[str, str]  # label shown to the user -> URL or path
    connector_settings: dict[str, ConnectorSettings]  # connector name -> settings pointing at it
    admin: dict[str, str] = field(default_factory=dict)  # system -> base URL of its `/_admin/`


#: Starts the systems on `stack` (stopped when it closes), with their data under `directory`;
#: `ephemeral`: free ports instead of the fixed demo ports.
DemoStarter = Callable[[contextlib.AsyncExitStack, Path, bool], StartedDemoSystems]


class DemoNotInstalled(DevServerError):
    """No `retrofit.demo` entry point: this is an install without the demo systems.

    A `DevServerError`, so every command that starts the embedded stack reports it in one line."""


def load_demo_starter() -> DemoStarter:
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "systems"]
    if not found:
        raise DemoNotInstalled(
            "the demo legacy systems are not installed (no `systems` entry point in group "
            f"{ENTRY_POINT_GROUP}); run without --demo, or install Retrofit from its source tree"
        )
    starter: DemoStarter = found[0].load()
    return starter
