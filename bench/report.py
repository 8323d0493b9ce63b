"""What a benchmark part contributes to the one printed table, and the table itself.

A part's `report(result)` gives cells by row (a route, or a variant of one) and
column, plus lines printed under the table. Rows and columns keep the order in
which the parts first name them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Report:
    cells: dict[str, dict[str, str]] = field(default_factory=dict)  # row -> column -> cell
    lines: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)  # budgets exceeded, one line each


def table(reports: list[Report], first_column: str = "route") -> str:
    """One plain-text table of every report's cells; a blank cell where a part is silent."""
    rows: dict[str, None] = {}
    columns: dict[str, None] = {}
    for report in reports:
        for row, cells in report.cells.items():
            rows.setdefault(row)
            for column in cells:
                columns.setdefault(column)
    if not rows:
        return ""
    header = [first_column, *columns]
    lines = [header]
    for row in rows:
        cells = {c: v for report in reports for c, v in report.cells.get(row, {}).items()}
        lines.append([row, *(cells.get(column, "") for column in columns)])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def calls_text(counts: Counter[str] | dict[str, int]) -> str:
    """`1 GetItem + 1 TransactWriteItems` (DynamoDB's prefix dropped), or `-` for none."""
    parts = [f"{n} {op.removeprefix('DynamoDB.')}" for op, n in sorted(counts.items()) if n]
    return " + ".join(parts) or "-"
