"""One status line on a terminal while a long command runs.

Only when stderr is a terminal and the log does not go there too (a log
on stderr would interleave with it); otherwise nothing is printed.
"""

from __future__ import annotations

import sys

from criu import log


class Progress:
    def __init__(self, what: str) -> None:
        self.what = what
        self.enabled = sys.stderr.isatty() and log.log_fd() is not None
        self._width = 0

    def step(self, text: str) -> None:
        if not self.enabled:
            return
        line = f"{self.what}: {text}"
        pad = max(0, self._width - len(line))
        sys.stderr.write("\r" + line + " " * pad)
        sys.stderr.flush()
        self._width = len(line)

    def done(self) -> None:
        if self.enabled and self._width:
            sys.stderr.write("\r" + " " * self._width + "\r")
            sys.stderr.flush()
            self._width = 0
