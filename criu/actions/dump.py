"""`criu dump -t PID -D DIR [-R|-s] [--display-stats]`."""

from __future__ import annotations

from criu import cli, stats
from criu.dump import pipeline


def run(command: str, argv: list[str]) -> int:
    opts, _ = cli.parse_options(command, argv, create_dirs=True)
    ctx = pipeline.dump(opts)
    if opts.display_stats:
        stats.display_dump(ctx.stats)
    return 0
