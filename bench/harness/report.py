"""Results: one Row of samples per scenario and the markdown tables printed from them."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    title: str
    unit: str
    higher_is_better: bool
    samples: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, list[Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    show: Callable[[float], str] | None = None

    def add(self, key: str, value: float, cpu: float | None = None) -> None:
        self.samples.setdefault(key, []).append(value)
        if cpu is not None:
            self.cpu.setdefault(key, []).append(cpu)

    def value(self, key: str) -> float | None:
        values = self.samples.get(key)
        return statistics.median(values) if values else None

    def ratio(self) -> float | None:
        ours, theirs = self.value("regd"), self.value("ref")
        if not ours or not theirs:
            return None
        return ours / theirs if self.higher_is_better else theirs / ours

    def cell(self, key: str) -> str:
        value = self.value(key)
        if value is None:
            return "-"
        text = self.show(value) if self.show else f"{_number(value)} {self.unit}"
        spread = self.samples[key]
        if len(spread) > 1:
            text += f" <sub>({_number(min(spread))}-{_number(max(spread))})</sub>"
        return text


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(rows: list[Row]) -> str:
    """The main table; push rows carry their dd reference (key "dd") in two more columns."""
    lines = [
        "| Scenario | regd | docker-registry | ratio (>1: regd better) "
        "| dd conv=fsync, same bytes | regd / dd |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        ratio = row.ratio()
        better = "higher" if row.higher_is_better else "lower"
        reference = row.value("dd")
        ours = row.value("regd")
        lines.append(
            f"| {row.title} ({better} is better) | {row.cell('regd')} | {row.cell('ref')} | "
            + (f"**{ratio:.2f}**" if ratio is not None else "-")
            + f" | {row.cell('dd')} | "
            + (f"**{ours / reference:.2f}**" if ours and reference else "-")
            + " |"
        )
    cpu_rows = [r for r in rows if r.cpu]
    if cpu_rows:
        lines += [
            "",
            "Server CPU seconds (user + system, all threads) per timed run, median:",
            "",
            "| Scenario | regd CPU s | docker-registry CPU s |",
            "| --- | ---: | ---: |",
        ]
        for row in cpu_rows:
            cells = [
                f"{statistics.median(row.cpu[k]):.2f}" if row.cpu.get(k) else "-"
                for k in ("regd", "ref")
            ]
            lines.append(f"| {row.title} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def memory_table(memory: dict[str, dict[str, dict[str, float]]]) -> str:
    """Every snapshot's RSS and peak of both servers."""
    lines = [
        "| Memory (MiB), after... | regd RSS | regd peak | docker-registry RSS "
        "| docker-registry peak |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label in memory["regd"]:
        cells = [
            f"{memory[key][label][what]:.0f}"
            for key in ("regd", "ref")
            for what in ("VmRSS", "VmHWM")
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
