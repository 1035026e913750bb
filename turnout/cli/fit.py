"""Tables that fit the terminal without clipping a figure.

Rich shrinks the columns of a table wider than the terminal, and a number wider than its
column ends in "…". Here each column is as wide as its cells when the whole fits; else every
column but the first is as wide as its longest word (an interval "[1.2%, 3.4%]" wraps at
its space, a number never breaks) and the first, the names, takes what is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

PAD = 1  # spaces after each column


def fitted_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], width: int, **options: Any
) -> Table:
    """A table of `rows` (Rich markup) under `headers`, at most `width` columns wide."""
    plain = [[Text.from_markup(cell).plain for cell in row] for row in rows]
    columns = [[header, *(row[i] for row in plain)] for i, header in enumerate(headers)]
    natural = [max(len(line) for cell in cells for line in cell.splitlines() or [""])
               for cells in columns]  # fmt: skip
    table = Table(box=None, padding=(0, PAD, 0, 0), **options)
    if sum(natural) + PAD * len(headers) <= width:
        for header in headers:
            table.add_column(header, overflow="fold")
    else:
        words = [max((len(w) for cell in cells for w in cell.split()), default=1)
                 for cells in columns]  # fmt: skip
        rest = width - sum(words[1:]) - PAD * len(headers)
        table.add_column(headers[0], overflow="fold", width=max(min(natural[0], rest), 4))
        for header, needed in zip(headers[1:], words[1:], strict=True):
            table.add_column(header, overflow="fold", width=needed)
    for row in rows:
        table.add_row(*row)
    return table
