from pathlib import Path

import pytest
from pydantic import ValidationError

from retrofit.mcp.consuming.config import load_servers


def test_loads_and_chooses_only_listed_tools(tmp_path: Path) -> None:
    f = tmp_path / "mcp.toml"
    f.write_text(
        '[[servers]]\nname = "clock"\ncommand = "python"\nargs = ["-m", "x"]\n'
        'tools = ["get_*"]\neffects = { get_time = "read" }\n'
    )
    server = load_servers(f).servers[0]
    assert server.chooses("get_time") and not server.chooses("set_time")


def test_secret_values_and_two_transports_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "mcp.toml"
    f.write_text('[[servers]]\nname = "x"\nurl = "http://h"\ntools = ["a"]\ntoken = "s3cret"\n')
    with pytest.raises(ValidationError):
        load_servers(f)
    f.write_text('[[servers]]\nname = "x"\nurl = "http://h"\ncommand = "c"\ntools = ["a"]\n')
    with pytest.raises(ValidationError):
        load_servers(f)
