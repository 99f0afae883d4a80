"""Plain-text tables, as the commands print them: columns two spaces apart, each as wide as its widest cell.

Dependency-free, so the command line can print a table without importing torch, Optuna or pandas.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence


def table_lines(rows: Iterable[Sequence[str]], *, header: Sequence[str] | None = None, right: Collection[int] = (),
                rule: bool = False, indent: str = "", gap: str = "  ") -> list[str]:
    """``rows`` (and ``header`` above them) as aligned lines, without trailing spaces.

    Cells are left-aligned; those of the columns numbered in ``right`` (0 the first, -1 the last) are
    right-aligned (numbers). The last column, when left-aligned, is not padded: its cells run on (descriptions,
    lists of names). With ``rule``, a line of dashes under the header spans each column, the unpadded last one as
    far as its heading.

    >>> table_lines([("head", "0.01"), ("backbone", "0.003")], header=("group", "lr"), right={1})
    ['group        lr', 'head       0.01', 'backbone  0.003']
    """
    body = [tuple(row) for row in rows]
    table = ([tuple(header)] if header is not None else []) + body
    if not table:
        return []
    columns = len(table[0])
    for number, row in enumerate(body):
        if len(row) != columns:
            raise ValueError(f"every row of a table needs {columns} cells, but row {number} has {len(row)}: {row!r}")
    if any(not -columns <= col < columns for col in right):
        raise ValueError(f"right names columns of a table of {columns}, got {sorted(right)}")
    right = {col % columns for col in right}
    widths = [max(len(row[col]) for row in table) for col in range(columns)]
    free_last = columns > 0 and columns - 1 not in right
    if free_last:
        widths[-1] = 0

    def line(cells: Sequence[str]) -> str:
        padded = (cell.rjust(width) if col in right else cell.ljust(width)
                  for col, (cell, width) in enumerate(zip(cells, widths, strict=True)))
        return (indent + gap.join(padded)).rstrip()

    lines = [line(row) for row in table]
    if rule and header is not None:
        dashes = ["-" * width for width in widths]
        if free_last:
            dashes[-1] = "-" * len(header[-1])
        lines.insert(1, (indent + gap.join(dashes)).rstrip())
    return lines
