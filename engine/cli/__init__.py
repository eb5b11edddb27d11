"""`betr`: the headless command line, on the same engine API (engine.api) as the TUI.

The root group adds each verb group's commands explicitly (one module per group); every
command gets `-w/--workspace` and `--json` from `engine.cli.common.BetrCommand`.
Exit codes: 0 ok, 2 bad input or usage (a BetrError or a click usage error), 1 internal error.
Heavy libraries are imported inside commands, so `betr --help` stays instant.
"""

from __future__ import annotations

import io
import logging
import sqlite3
import sys
import traceback

import click

from engine.cli import (
    analysis_corr,
    analysis_fit,
    betr,
    browse,
    clusters,
    compare,
    contamination,
    docs_view,
    dups,
    imports,
    jobs,
    rbridge,
    results,
    scale,
    why,
    workspace,
)
from engine.cli.common import BetrGroup, Obj, echo, workspace_param
from engine.errors import BetrError
from engine.workspace import damaged_database_message, is_busy, is_damaged_database


@click.group(cls=BetrGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="betr-tui", prog_name="betr")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """betr: benchmark-targeted ranking of pretraining data (headless engine of betr-tui)."""
    ctx.ensure_object(Obj)


cli.params.append(workspace_param())  # `betr -w WS VERB ...` as well as `betr VERB ... -w WS`
for module in (
    workspace,
    imports,
    jobs,
    betr,
    browse,
    docs_view,
    rbridge,
    results,
    analysis_fit,
    analysis_corr,
    compare,
    scale,
    why,
    contamination,
    clusters,
    dups,
):
    for command in module.COMMANDS:
        cli.add_command(command)


class _Notices(logging.Handler):
    """The engine's notices to the user while a command runs (`betr.workspace`: a write that
    waits for another writer), on stderr through `echo` (escaped like all output)."""

    def emit(self, record: logging.LogRecord) -> None:
        echo(f"note: {record.getMessage()}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: BetrError -> exit 2 with its message; a bug -> exit 1."""
    notices = _Notices(logging.WARNING)
    workspace_log = logging.getLogger("betr.workspace")
    workspace_log.addHandler(notices)
    try:
        _main(argv)
    finally:
        workspace_log.removeHandler(notices)


def _main(argv: list[str] | None) -> None:
    try:
        cli.main(args=argv, prog_name="betr", standalone_mode=False)
    except click.exceptions.Abort:
        echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        shown = io.StringIO()
        exc.show(file=shown)
        echo(shown.getvalue(), err=True, nl=False)
        sys.exit(2 if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BetrError as exc:
        echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except sqlite3.DatabaseError as exc:
        if is_busy(exc):  # a write outside `transaction` (which says who writes) timed out
            echo(
                "error: workspace busy: another betr process held the write lock past the "
                "busy timeout\n  fix: run the command again when it has finished (betr jobs "
                "list shows the jobs)",
                err=True,
            )
            sys.exit(2)
        if not is_damaged_database(exc):
            internal_error()
        echo(f"error: {damaged_database_message(exc)}", err=True)
        sys.exit(2)
    except Exception:
        internal_error()


def internal_error() -> None:
    echo(traceback.format_exc(), err=True)
    echo("internal error (a bug in betr): please report it with the traceback above", err=True)
    sys.exit(1)
