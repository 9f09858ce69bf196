"""The one table every bench prints: figure, measured value, target, baseline, ratio, pass/miss.

A bench builds `Result`s, prints them with `print_table`, and with `--results FILE` also writes
them as JSON so that `run_all.py` can gather every bench into one summary table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Result:
    bench: str
    figure: str
    value: str  # the measured figure, with its unit
    target: str  # what "pass" means, e.g. ">= 0.87x bare" or "< 2 s"
    baseline: str = "-"  # the same-run baseline the ratio is taken against, if any
    ratio: float | None = None
    passed: bool | None = None  # None: reported, not judged

    @property
    def verdict(self) -> str:
        return "-" if self.passed is None else ("pass" if self.passed else "MISS")


_HEADERS = ("bench", "figure", "value", "target", "baseline", "ratio", "result")


def _cells(result: Result) -> tuple[str, ...]:
    ratio = "-" if result.ratio is None else f"{result.ratio:.3f}"
    return (result.bench, result.figure, result.value, result.target, result.baseline, ratio, result.verdict)


def format_table(results: Sequence[Result], title: str = "") -> str:
    rows = [_HEADERS, *(_cells(r) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADERS))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [title] if title else []
    out += [line(rows[0]), rule, *(line(row) for row in rows[1:])]
    return "\n".join(out)


def print_table(results: Sequence[Result], title: str = "") -> None:
    print(format_table(results, title), flush=True)


def write_results(path: Path, results: Sequence[Result]) -> None:
    path.write_text(json.dumps([asdict(r) for r in results], indent=2))


def read_results(path: Path) -> list[Result]:
    return [Result(**item) for item in json.loads(path.read_text())]
