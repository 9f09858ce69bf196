"""How long a worker waits for a big WSDL: cold, warm (in-process memo), cold with the persistent cache.

    .venv/bin/python bench/soap_wsdl_load.py [--repeat 5] [--data ../shared/data/wsdl]

Every cold number comes from a fresh Python process (imports timed separately), so nothing is
warm that a newly started worker would not have. Ratios are against the cold parse measured in
the same run. "read sources" is reading and hashing every file the WSDL pulls in: all that a
byte cache such as zeep's SqliteCache could save for local files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.shared_data, the one place that says where the WSDLs live

from tests.shared_data import missing_reason, shared_data  # noqa: E402

DEFAULT_DATA = shared_data("wsdl")
WSDLS = {
    "NetSuite 2023_2": "netsuite-2023_2/netsuite.wsdl",
    "Salesforce Partner v58": "salesforce-partner-v58.wsdl",
}


def child(wsdl: str, cache_dir: str | None) -> None:
    """Runs in a fresh process: time the imports, a first load, and a second load (the memo)."""
    started = time.perf_counter()
    from connectors.soap import list_operations, load_wsdl, wsdl_cache_stats

    imported = time.perf_counter()
    document = load_wsdl(wsdl, cache_dir=Path(cache_dir) if cache_dir else None)
    first = time.perf_counter()
    again = load_wsdl(wsdl, cache_dir=Path(cache_dir) if cache_dir else None)
    second = time.perf_counter()
    assert again is document and list_operations(document)
    stats = wsdl_cache_stats()
    print(
        json.dumps(
            {
                "import_s": imported - started,
                "first_s": first - imported,
                "second_s": second - first,
                "parsed": stats.parsed,
                "disk_hits": stats.disk_hits,
            }
        )
    )


def run_child(wsdl: Path, cache_dir: Path | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(wsdl)]
    if cache_dir is not None:
        command += ["--cache-dir", str(cache_dir)]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def read_sources(wsdl: Path) -> float:
    started = time.perf_counter()
    for path in [wsdl, *sorted(wsdl.parent.rglob("*.xsd"))]:
        hashlib.sha256(path.read_bytes()).hexdigest()
    return time.perf_counter() - started


def measure(wsdl: Path, repeat: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {
        k: [] for k in ("import", "cold", "cold_writing_cache", "warm", "cold_from_cache", "read_sources")
    }
    for _ in range(repeat):
        samples["read_sources"].append(read_sources(wsdl))
        plain = run_child(wsdl, None)
        assert plain["parsed"] == 1
        samples["import"].append(plain["import_s"])
        samples["cold"].append(plain["first_s"])
        samples["warm"].append(plain["second_s"])
        with tempfile.TemporaryDirectory() as empty:
            cache = Path(empty) / "wsdl-cache"
            writing = run_child(wsdl, cache)
            assert writing["parsed"] == 1
            samples["cold_writing_cache"].append(writing["first_s"])
            cached = run_child(wsdl, cache)
            assert (cached["parsed"], cached["disk_hits"]) == (0, 1), cached
            samples["cold_from_cache"].append(cached["first_s"])
    return {key: statistics.median(values) for key, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.cache_dir)
        return

    print(f"WSDL load times, median of {args.repeat} fresh processes each (python {sys.version.split()[0]})")
    rows = [
        ("cold: parse, no cache", "cold"),
        ("cold: parse + write cache", "cold_writing_cache"),
        ("warm: in-process memo", "warm"),
        ("cold: from persistent cache", "cold_from_cache"),
        ("read sources only", "read_sources"),
    ]
    for label, relative in WSDLS.items():
        wsdl = args.data / relative
        if not wsdl.is_file():
            print(f"\n{label}: skipped, {missing_reason(wsdl)}")
            continue
        result = measure(wsdl, args.repeat)
        baseline = result["cold"]
        print(
            f"\n{label}  ({wsdl.relative_to(args.data)}; imports {result['import'] * 1000:.0f} ms, not included)"
        )
        for name, key in rows:
            value = result[key]
            print(f"  {name:<30} {value * 1000:9.1f} ms   {value / baseline:7.3f} x cold")


if __name__ == "__main__":
    main()
