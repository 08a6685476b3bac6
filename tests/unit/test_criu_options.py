"""Option parsing and log formatting of the criu command (no root)."""

from __future__ import annotations

import logging

import pytest

from criu import cli, log
from criu.errors import UsageError


@pytest.mark.parametrize("values, level", [
    (None, 2), ([""], 3), (["v"], 4), (["vvvvvv"], 4), (["0"], 0),
    (["4"], 4), (["1", ""], 2), (["0", "", ""], 2),
])
def test_verbosity(values, level) -> None:  # type: ignore[no-untyped-def]
    assert log.parse_verbosity(values) == level


def test_bad_verbosity() -> None:
    with pytest.raises(ValueError):
        log.parse_verbosity(["x"])


def test_flat_options(tmp_path) -> None:  # type: ignore[no-untyped-def]
    opts, rest = cli.parse_options("dump", [
        "-t", "42", "-D", str(tmp_path), "-R", "-j", "--display-stats",
        "-vv", "--log-pid", "--pidfile", "p"])
    assert (opts.pid, opts.images_dir, opts.leave_running, opts.shell_job,
            opts.display_stats, opts.verbosity, opts.log_pid,
            opts.pidfile) == (42, str(tmp_path), True, True, True, 4, True,
                              "p")
    assert rest == []
    assert opts.work_path == str(tmp_path)


def test_positional_is_usage_error() -> None:
    with pytest.raises(UsageError):
        cli.parse_options("dump", ["stray"])
    # a bare -v takes no value: the next word stays a positional
    with pytest.raises(UsageError):
        cli.parse_options("dump", ["-v", "stray"])
    opts, _ = cli.parse_options("dump", ["-v", "-t", "1"])
    assert opts.verbosity == 3 and opts.pid == 1


def test_log_file_format(tmp_path) -> None:  # type: ignore[no-untyped-def]
    logger = log.setup(4, "x.log", str(tmp_path))
    logger.debug("hello %d", 1)
    logger.error("broken")
    logging.getLogger("criu").handlers[0].flush()
    lines = (tmp_path / "x.log").read_text().splitlines()
    assert lines[0].startswith("(") and lines[0].endswith(") hello 1")
    assert "Error (" in lines[1] and lines[1].endswith("): broken")
    log.setup(2)


def test_log_pid_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    log.setup(2, "y.log", str(tmp_path), log_pid=True)
    assert (tmp_path / f"y.log.{os.getpid()}").exists()
    log.setup(2)


@pytest.mark.parametrize("text, size", [("100", 100), ("4K", 4096),
                                        ("3M", 3 << 20), ("1g", 1 << 30)])
def test_ghost_limit_sizes(text: str, size: int) -> None:
    opts, _ = cli.parse_options("dump", ["--ghost-limit", text])
    assert opts.ghost_limit == size


def test_bad_ghost_limit() -> None:
    with pytest.raises(UsageError):
        cli.parse_options("dump", ["--ghost-limit", "lots"])


# ------------------------------------------------ criu(8)'s getopt_long
from criu import optable  # noqa: E402


@pytest.mark.parametrize("argv, pid, verbosity, images", [
    # bundled short options, attached argument
    (["dump", "-Rjt42", "-v"], 42, 3, "."),
    # -v's argument is optional: it takes the rest of its word (atoi: 0)
    (["dump", "-t", "5", "-vt42"], 5, 0, "."),
    # an abbreviated long option with =, -v with digits
    (["dump", "--ima=/x", "-t", "7", "-v4"], 7, 4, "/x"),
    # CRIU reads -verbosity=0 as -v with the argument "erbosity=0": 0
    (["dump", "-t", "1", "-verbosity=0"], 1, 0, "."),
    # -vvv: three steps up from the default, capped at 4
    (["-vvv", "dump", "-t", "1"], 1, 4, "."),
    # options after "--" are positionals (here an error for dump)
])
def test_getopt_like_criu(argv: list[str], pid: int, verbosity: int,
                          images: str) -> None:
    opts, rest = cli.parse_options("dump", argv)
    assert (opts.pid, opts.verbosity, opts.images_dir) == (pid, verbosity,
                                                           images)
    assert rest == []
    log.setup(2)


def test_negatable_and_ambiguous() -> None:
    opts, _ = cli.parse_options("dump", ["dump", "-j", "--no-shell-job"])
    assert opts.shell_job is False
    with pytest.raises(UsageError, match="ambiguous"):
        optable.getopt(["--tcp"])          # tcp-established, tcp-close
    with pytest.raises(UsageError, match="doesn't allow an argument"):
        optable.getopt(["--shell-job=yes"])
    with pytest.raises(UsageError, match="requires an argument"):
        optable.getopt(["--timeout"])
    with pytest.raises(UsageError, match="invalid option -- 'q'"):
        optable.getopt(["-q"])


def test_every_criu_option_is_known() -> None:
    """criu(8) 4.2's long options (its config.c), each in the table."""
    criu_4_2 = """tree leave-stopped leave-running restore-detached
    restore-sibling daemon images-dir work-dir log-file join-ns root
    ext-unix-sk help tcp-established close log-pid version evasive-devices
    pidfile veth-pair action-script link-remap shell-job file-locks
    page-server address port prev-images-dir ms track-mem auto-dedup libdir
    cpu-cap force-irmap ext-mount-map exec-cmd manage-cgroups cgroup-root
    inherit-fd feature skip-mnt enable-fs enable-external-sharing
    enable-external-masters freeze-cgroup ghost-limit irmap-scan-path
    lsm-profile timeout external empty-ns lazy-pages extra experimental all
    cgroup-props cgroup-props-file cgroup-dump-controller skip-in-flight
    deprecated display-stats weak-sysctls status-fd tcp-close verbosity
    ps-socket stream config no-default-config tls-cacert tls-cacrl tls-cert
    tls-key tls tls-no-cn-verify cgroup-yard pre-dump-mode file-validation
    skip-file-rwx-check lsm-mount-context network-lock mntns-compat-mode
    unprivileged ghost-fiemap allow-uprobes""".split()
    assert sorted(criu_4_2) == sorted(optable.BY_LONG)
    assert "".join(sorted(optable.BY_SHORT)) == "".join(
        sorted("dSsRthDovxVrjJlWLM"))


def test_config_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    (home / ".criu").mkdir(parents=True)
    (home / ".criu" / "default.conf").write_text(
        "# user defaults\nshell-job\n  log-file \"a \\\"b\\\" c\"  # x\n"
        "ghost-limit 2M\n")
    env_file = tmp_path / "env.conf"
    env_file.write_text("images-dir /from/env\n")
    env = {"HOME": str(home), "CRIU_CONFIG_FILE": str(env_file)}
    words = optable.config_argv(["dump"], env)
    assert words[-6:] == ["--shell-job", "--log-file", 'a "b" c',
                          "--ghost-limit", "2M", "--images-dir",
                          "/from/env"][-6:]
    assert "--images-dir" in words and words[-1] == "/from/env"
    # --no-default-config: only $CRIU_CONFIG_FILE and --config are read
    words = optable.config_argv(["dump", "--no-default-config"], env)
    assert words == ["--images-dir", "/from/env"]
    explicit = tmp_path / "x.conf"
    explicit.write_text("leave-running\n")
    words = optable.config_argv(["--config", str(explicit)], env)
    assert words == ["--images-dir", "/from/env", "--leave-running"]
    with pytest.raises(UsageError, match="No such file"):
        optable.config_argv(["--config=/no/such.conf"], {})
    with pytest.raises(UsageError, match="unterminated quote"):
        optable.config_words('log-file "abc\n', "f")
