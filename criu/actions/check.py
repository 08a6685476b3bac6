"""`criu check [--feature NAME|list] [--all]`.

Plain `criu check` probes what every dump and restore needs and prints
"Looks good." or, for each missing piece, an error naming the feature and
the reason (exit 1).  `--all` adds the optional features; when only those
are missing it says so and still exits 0, like CRIU.  `--feature NAME`
probes one feature ("NAME is supported" or the reason, exit 1);
`--feature list` lists the names.
"""

from __future__ import annotations

from criu import check, cli, log
from criu.errors import UsageError


def run(command: str, argv: list[str]) -> int:
    opts, _ = cli.parse_options(command, argv)
    logger = log.get_logger()
    if opts.features:
        if "list" in opts.features:
            log.pr_msg("%s", " ".join(f.name for f in check.FEATURES))
            return 0
        unknown = [n for n in opts.features if check.by_name(n) is None]
        if unknown:
            raise UsageError(f"check: unknown feature {unknown[0]} "
                             "(try criu check --feature list)")
        status = 0
        for name in opts.features:
            feature = check.by_name(name)
            assert feature is not None
            reason = feature.probe()
            if reason is None:
                log.pr_msg("%s is supported", name)
            else:
                log.pr_msg("%s is NOT supported: %s", name, reason)
                status = 1
        return status
    missing_essential = 0
    missing_optional = 0
    for feature in check.FEATURES:
        if not (feature.essential or opts.check_all):
            continue
        reason = feature.probe()
        if reason is None:
            logger.info("%s: ok", feature.name)
            continue
        if feature.essential:
            missing_essential += 1
            logger.error("%s is missing (%s): %s", feature.name,
                         feature.what, reason)
        else:
            missing_optional += 1
            logger.warning("%s is missing (%s): %s", feature.name,
                           feature.what, reason)
    if missing_essential:
        log.pr_msg("%d required feature(s) missing: dump or restore will "
                   "fail (see the messages above)", missing_essential)
        return 1
    if missing_optional:
        log.pr_msg("Looks good but some kernel features are missing\n"
                   "which, depending on your process tree, may cause\n"
                   "dump or restore failure.")
        return 0
    log.pr_msg("Looks good.")
    return 0
