"""`betr`: the headless command line, on the same engine API (engine.api) as the TUI.

The root group adds each verb group's commands explicitly (one module per group); every
command gets `-w/--workspace` and `--json` from `engine.cli.common.BetrCommand`.
Exit codes: 0 ok, 2 bad input or usage (a BetrError or a click usage error), 1 internal error.
Heavy libraries are imported inside commands, so `betr --help` stays instant.
"""

from __future__ import annotations

import io
import sqlite3
import sys
import traceback

import click

from engine.cli import (
    analysis_corr,
    analysis_fit,
    betr,
    browse,
    contamination,
    imports,
    jobs,
    rbridge,
    results,
    scale,
    scale_scores,
    why,
    workspace,
)
from engine.cli.common import BetrGroup, Obj, echo, workspace_param
from engine.errors import BetrError
from engine.workspace import damaged_database_message, is_damaged_database


@click.group(cls=BetrGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="betr-tui", prog_name="betr")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """betr: benchmark-targeted ranking of pretraining data (headless engine of betr-tui)."""
    ctx.ensure_object(Obj)


cli.params.append(workspace_param())  # `betr -w WS VERB ...` as well as `betr VERB ... -w WS`
for module in (
    workspace, imports, jobs, betr, browse, rbridge, results, analysis_fit, analysis_corr,
    scale, scale_scores, why, contamination,
):  # fmt: skip
    for command in module.COMMANDS:
        cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: BetrError -> exit 2 with its message; a bug -> exit 1."""
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
