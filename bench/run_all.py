"""Every bench, one after the other, each in a fresh process; then one summary table.

    .venv/bin/python bench/run_all.py [--quick]      (`make bench`)

Each bench prints its own details as it finishes. Benches that write `--results` JSON are taken
as they are; for the older connector-base benches the headline line of their output is read.
About five minutes on two cores; `--quick` runs smaller sizes (a smoke test of the benches).
Exit status 0 even on a miss: on a shared machine a miss is a figure to look at, not a failure.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from results_table import Result, print_table, read_results

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Bench:
    script: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    # For benches without --results: their stdout to result rows.
    parse: Callable[[str], list[Result]] | None = None


def _ratio_row(bench: str, figure: str, pattern: str, target: float) -> Callable[[str], list[Result]]:
    def parse(out: str) -> list[Result]:
        found = re.search(pattern, out)
        if found is None:
            return [Result(bench, figure, "not found in output", f">= {target}x", passed=False)]
        ratio = float(found.group(1))
        return [Result(bench, figure, f"{ratio:.3f}x", f">= {target}x", "raw", ratio, ratio >= target)]

    return parse


def _soap_rows(out: str) -> list[Result]:
    rows = []
    for block in re.split(r"\n(?=\S)", out):
        cold = re.search(r"cold: parse, no cache\s+([\d.]+) ms", block)
        cached = re.search(r"cold: from persistent cache\s+([\d.]+) ms\s+([\d.]+) x cold", block)
        if cold and cached:
            name = block.split("(")[0].strip()
            rows.append(
                Result(
                    "soap_wsdl_load",
                    f"{name}: cold start from cache",
                    f"{float(cached.group(1)):.0f} ms",
                    "(reported)",
                    f"{float(cold.group(1)):.0f} ms cold parse",
                    float(cached.group(2)),
                )
            )
    return rows


BENCHES = (
    Bench(
        "rest_base_overhead.py",
        ("--calls", "2000"),
        ("--calls", "300"),
        _ratio_row("rest_base_overhead", "REST base in action / raw httpx", r"/ raw: ([\d.]+)", 0.95),
    ),
    Bench(
        "sql_base_overhead.py",
        (),
        ("--calls", "500"),
        _ratio_row("sql_base_overhead", "SQL base / raw SQLAlchemy", r"ratio base/raw\s*:\s*([\d.]+)x", 0.95),
    ),
    Bench("soap_wsdl_load.py", ("--repeat", "1"), ("--repeat", "1"), _soap_rows),
    Bench("redaction.py", (), ("--rounds", "3")),
    Bench("audit_store.py", (), ("--events", "20000")),
    Bench("gate_overhead.py", ("--rounds", "3"), ("--workflows", "5", "--actions", "4", "--rounds", "1")),
    Bench("approval_latency.py", (), ("--workflows", "5")),
    Bench("approvals_at_scale.py", (), ("--workflows", "30")),
    Bench("agent_step_latency.py", (), ("--tasks", "2", "--turns", "3", "--rounds", "1")),
    Bench(
        "agent_concurrency.py", (), ("--sizes", "1", "2", "--turns", "2", "--rounds", "1", "--min-tasks", "1")
    ),
)


def run(bench: Bench, quick: bool, tmp: Path) -> list[Result]:
    results_file = tmp / f"{bench.script}.json"
    command = [sys.executable, str(HERE / bench.script), *(bench.quick_args if quick else bench.args)]
    if bench.parse is None:
        command += ["--results", str(results_file)]
    print(f"\n=== {bench.script} {' '.join(command[2:])}", flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=HERE.parent, capture_output=True, text=True)
    print(done.stdout, end="")
    print(f"--- {bench.script}: {time.perf_counter() - started:.0f} s", flush=True)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return [
            Result(
                bench.script.removesuffix(".py"),
                "(bench failed)",
                f"exit {done.returncode}",
                "-",
                passed=False,
            )
        ]
    if bench.parse is not None:
        return bench.parse(done.stdout)
    return read_results(results_file)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run every bench and print one summary table.")
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the benches run")
    parser.add_argument("--only", nargs="*", help="bench scripts to run (default: all)")
    args = parser.parse_args()
    started = time.perf_counter()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="retrofit-bench-") as tmp:
        for bench in BENCHES:
            if (
                args.only
                and bench.script not in args.only
                and bench.script.removesuffix(".py") not in args.only
            ):
                continue
            results += run(bench, args.quick, Path(tmp))
    print()
    print_table(results, f"Retrofit benchmarks ({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
