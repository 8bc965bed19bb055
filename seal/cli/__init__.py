"""The command line: the composition root, and the only place that exits.

Subcommands live in their own modules and are imported only when invoked, so
`seal validate` never imports the Kubernetes client, the sandbox or metrics.
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
from typing import Any, NoReturn

import click

from seal import __version__
from seal.cli.options import option
from seal.errors import ClusterUnreachable, PermissionsMissing, SealError, UsageError

#: subcommand -> "module:attribute" of its click command.
SUBCOMMANDS: dict[str, str] = {
    "validate": "seal.cli.validate:validate",
    "schema": "seal.cli.validate:schema",
    "convert": "seal.cli.convert:convert",
    "sandbox": "seal.cli.sandbox:sandbox",
    "autonomous": "seal.cli.autonomous:autonomous",
    "interactive": "seal.cli.interactive:interactive",
    "cleanup": "seal.cli.cleanup:cleanup",
    "label": "seal.cli.autonomous:label",
    "cloud": "seal.cli.cloud:cloud",
    "rbac": "seal.cli.rbac:rbac",
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(SUBCOMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


def _global_flag_ok(name: str, value: Any) -> str:
    """What a flag of `seal` itself set in a config file must be, when `value` is not that."""
    if name == "verbose" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        return "a whole number from 0"
    if name == "silent" and not isinstance(value, bool):
        return "true or false"
    if name == "log_format" and value not in ("plain", "json"):
        return "plain or json"
    return ""


def _read_config_file(path: str) -> dict[str, Any]:
    """Flag values from a YAML file: `{policy-file: x.yml, verbose: 1, ...}`, read within
    the bounds of `seal.bounded_yaml` (size, depth, values, aliases); a flag's value is
    a single value or a list of them, and seal's own flags have their types checked."""
    from seal import bounded_yaml

    try:
        with open(path, "rb") as handle:
            raw = handle.read(bounded_yaml.DEFAULT_LIMITS.max_bytes + 1)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read config file: {exc.strerror}") from exc
    values: dict[str, Any] = {}
    for key, value, where in bounded_yaml.load_flags(raw, path):
        name = key.lstrip("-").replace("-", "_")
        wanted = _global_flag_ok(name, value)
        if wanted:
            raise UsageError(f"{where}: {key[:60]}: must be {wanted}, got {str(value)[:60]!r}")
        values[name] = value
    return values


_GLOBAL_FLAGS = {"verbose", "silent", "log_format"}


def _default_map(values: dict[str, Any], ctx: click.Context) -> dict[str, Any]:
    """Flat flag values as defaults of the subcommand being run; unknown flags are errors."""
    name = ctx.invoked_subcommand
    command = cli.get_command(ctx, name) if name else None
    by_flag: dict[str, click.Parameter] = {}
    for param in command.params if command else []:
        for opt in param.opts:
            by_flag[opt.lstrip("-").replace("-", "_")] = param
    unknown = set(values) - set(by_flag) - _GLOBAL_FLAGS
    if unknown:
        where = f"seal {name}" if name else "seal"
        raise UsageError(
            f"config file: {', '.join(sorted(unknown))}: not a flag of {where} "
            "(use the long flag names, e.g. policy-file)"
        )
    defaults: dict[str, Any] = {}
    for flag, value in values.items():
        target = by_flag.get(flag)
        if target is not None and target.name:
            multiple = getattr(target, "multiple", False)
            is_list = isinstance(value, list)
            defaults[target.name] = [value] if multiple and not is_list else value
    return {name: defaults} if name else {}


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="seal")
@option("-v", "--verbose", count=True, help="More output; repeat for more.")
@option("-s", "--silent", is_flag=True, help="Only errors.")
@option(
    "--log-format",
    type=click.Choice(["plain", "json"]),
    default="plain",
    show_default=True,
    help="Log line format.",
)
@option(
    "-c",
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    legacy_env=["CONFIG"],
    help="YAML file of flag values.",
)
@click.pass_context
def cli(
    ctx: click.Context, verbose: int, silent: bool, log_format: str, config_file: str | None
) -> None:
    """seal: chaos engineering for Kubernetes, done safely."""
    from seal import log

    if config_file:
        try:
            values = _read_config_file(config_file)
        except UsageError as exc:
            if ctx.get_parameter_source("config_file") is click.core.ParameterSource.ENVIRONMENT:
                named = "SEAL_CONFIG" if os.environ.get("SEAL_CONFIG") else "CONFIG"
                raise UsageError(f"{exc} (the config file named by ${named})") from exc
            raise
        ctx.default_map = _default_map(values, ctx)
        verbose = verbose or int(values.get("verbose", 0))
        silent = silent or bool(values.get("silent", False))
        if "log_format" in values and ctx.get_parameter_source("log_format") in (
            click.core.ParameterSource.DEFAULT,
        ):
            log_format = str(values["log_format"])
    log.configure(verbosity=verbose, silent=silent, fmt=log_format)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `seal` console script."""
    try:
        code = cli.main(args=argv, prog_name="seal", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except UsageError as exc:
        click.echo(f"seal: error: {exc}", err=True)
        sys.exit(2)
    except ClusterUnreachable as exc:
        click.echo(f"seal: error: {exc}", err=True)
        sys.exit(3)
    except PermissionsMissing as exc:
        click.echo(f"seal: error: {exc}", err=True)
        sys.exit(4)
    except SealError as exc:
        click.echo(f"seal: error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def run() -> NoReturn:
    """The `seal` console script and `python -m seal`: `main`, then a quick exit.

    The process ends as Python's own exit begins (non-daemon threads waited for,
    `atexit` handlers run, the standard streams flushed) and then stops, without tearing
    down every module and object one by one: that teardown changes nothing outside the
    process and costs a short run a sixth of its time (30 to 40 ms of a 0.2 s kill).
    An exception other than `SystemExit` ends the process the usual way."""
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is None or sys.getprofile() is not None or sys.gettrace() is not None:
        # a Python without it, or a profiler or debugger that reports once the process
        # ends the usual way (`python -m cProfile -m seal`): Python's own exit
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # as Python does with a message
        sys.stderr.write(f"{code}\n")
        status = 1
    shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = 120  # Python's status when its streams cannot be flushed at exit
    os._exit(status)
