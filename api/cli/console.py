"""The CLI's Rich consoles. On a terminal Rich fits output to the window; written to a file or a
pipe (logs, CI) it would cut tables to 80 columns, so there it gets a width no row reaches."""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import ProgressColumn, Task
from rich.text import Text

__all__ = ["PIPE_WIDTH", "CountColumn", "console"]

PIPE_WIDTH = 1_000


def console(*, stderr: bool = False, soft_wrap: bool = False) -> Console:
    """A console at the terminal's width, or at `PIPE_WIDTH` when not writing to a terminal
    (unless COLUMNS says otherwise)."""
    probe = Console(stderr=stderr, soft_wrap=soft_wrap)
    if probe.is_terminal or "COLUMNS" in os.environ:
        return probe
    return Console(stderr=stderr, soft_wrap=soft_wrap, width=PIPE_WIDTH)


class CountColumn(ProgressColumn):
    """`done/total` when the total is known, else the count alone (Rich shows `0/?`)."""

    def render(self, task: Task) -> Text:
        done = int(task.completed)
        text = f"{done}/{int(task.total)}" if task.total is not None else str(done)
        return Text(text, style="progress.download")
