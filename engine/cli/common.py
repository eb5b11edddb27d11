"""What every `betr` verb shares: `-w/--workspace` and `--json` (added to each command once,
here, and kept in `ctx.obj`), output that never lets data reach the terminal as escape
sequences, tables, and jobs run in the foreground with a progress bar or detached."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable
from typing import Any

import click

from engine.errors import JobCancelled
from engine.terminal import json_text, visible
from engine.workspace import Workspace

WORKSPACE_HELP = "Workspace directory (default: $BETR_WORKSPACE, else ./betr-workspace)."


class Obj:
    """`ctx.obj` of every command: where the workspace is, and whether to print JSON."""

    def __init__(self) -> None:
        self.workspace_path: str | None = None
        self.json = False
        self._workspace: Workspace | None = None

    @property
    def workspace(self) -> Workspace:
        """The workspace (opened, migrated and checked once)."""
        if self._workspace is None:
            self._workspace = Workspace.open(self.workspace_path)
        return self._workspace


def _set_workspace(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(Obj).workspace_path = value


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Obj).json = True


def workspace_param() -> click.Option:
    return click.Option(
        ["-w", "--workspace"],
        metavar="PATH",
        default=None,
        expose_value=False,
        callback=_set_workspace,
        help=WORKSPACE_HELP,
    )


class BetrCommand(click.Command):
    """A command with `-w/--workspace` (unless workspace=False) and `--json` (unless
    json=False), both written into ctx.obj rather than passed to the function."""

    def __init__(self, *args: Any, workspace: bool = True, json: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if workspace:
            self.params.append(workspace_param())
        if json:
            self.params.append(
                click.Option(
                    ["--json"],
                    is_flag=True,
                    expose_value=False,
                    callback=_set_json,
                    help="Print JSON instead of a table.",
                )
            )


class BetrGroup(click.Group):
    """A group whose commands are BetrCommands (and whose subgroups are BetrGroups)."""

    command_class = BetrCommand


BetrGroup.group_class = BetrGroup


class RegistryChoice(click.Choice):
    """A choice among the names of an engine registry (re-exported by engine.api), read when
    the option is parsed or its help shown: `registry` is a function returning the registry,
    so `betr --help` imports no engine module, and a name registered later (a plugin, a test)
    is a valid choice."""

    def __init__(self, registry: Callable[[], Iterable[str]], case_sensitive: bool = True):
        self.registry = registry
        self.case_sensitive = case_sensitive

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self.registry())


def _keep_by() -> tuple[str, ...]:
    from engine.api.select import KEEP_BY

    return KEEP_BY


KEEP_BY = RegistryChoice(_keep_by)  # --by of every keep rate: tokens or docs


def obj() -> Obj:
    return click.get_current_context().ensure_object(Obj)


# -- output -------------------------------------------------------------------------------------
def echo(text: Any = "", *, err: bool = False, nl: bool = True) -> None:
    """click.echo with every control character from data shown as a symbol (engine.terminal):
    nothing read from a workspace or a file reaches the terminal as an escape sequence."""
    click.echo(visible(str(text)), err=err, nl=nl)


def emit_json(data: Any) -> None:
    """`data` as valid JSON (NaN and infinities as null: engine.terminal.json_text)."""
    click.echo(json_text(data, indent=2))


def emit_json_line(data: Any) -> None:
    click.echo(json_text(data))


def print_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], empty: str) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    if not rows:
        console.print(Text(empty))
        return
    table = Table(show_edge=False, header_style="bold")
    for _, title in columns:
        table.add_column(title)
    for row in rows:
        table.add_row(
            *[
                Text(visible(str(row[key]))) if row.get(key) is not None else Text("-")
                for key, _ in columns
            ]
        )
    console.print(table)


def report_skipped(result: dict[str, Any]) -> None:
    if result.get("skipped"):
        echo(f"skipped {result['skipped']} bad record(s):", err=True)
        for line in result.get("skipped_examples", []):
            echo(f"  {line}", err=True)
        if result["skipped"] > len(result.get("skipped_examples", [])):
            echo("  ... (all of them are in the job log)", err=True)


@contextlib.contextmanager
def progress_bar(title: str, unit: str, *, transient: bool = False, job_eta: bool = True):
    """A rich progress bar on stderr (only when it is a terminal); yields
    `update(done, total, unit=None, rate=None, eta=None)`. job_eta: show the `eta` given (a
    job's own, "-" when unknown), else rich's estimate from the bar's speed."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from engine.units import format_duration, format_rate

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TextColumn("{task.fields[eta]}") if job_eta else TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=not console.is_terminal,
    )
    task = progress.add_task(
        escape(visible(title, lines=False)), total=None, unit=unit, rate="", eta="-"
    )

    def update(done, total, unit=None, rate=None, eta=None):
        fields = {} if unit is None else {"unit": unit}
        fields["rate"] = format_rate(rate, unit or "") if rate is not None else ""
        fields["eta"] = format_duration(eta)
        progress.update(task, completed=done, total=total, **fields)

    with progress:
        yield update


# -- jobs ---------------------------------------------------------------------------------------
def run_job(spec: Any, detach: bool, *, title: str | None = None) -> dict[str, Any] | None:
    """Queue a job; detached: print its id and return None; else run it here with progress."""
    from engine.api import jobs

    ws = obj().workspace
    if detach:
        job_id = jobs.start(ws, spec, title=title)
        if obj().json:
            emit_json({"job_id": job_id, "state": "queued"})
        else:
            echo(f"job {job_id} started in the background: betr jobs show {job_id}")
        return None
    job_id = jobs.queue(ws, spec, title=title)
    return follow_job(ws, job_id, title or spec.title)


def follow_job(ws: Workspace, job_id: int, title: str) -> dict[str, Any] | None:
    """Run a queued job in the foreground with a rich progress bar (on stderr)."""
    from engine.api import jobs

    try:
        with progress_bar(title, "", transient=obj().json) as update:
            return jobs.run_here(ws, job_id, on_progress=update)
    except (KeyboardInterrupt, JobCancelled):
        echo(f"job {job_id} cancelled; continue it with: betr jobs resume {job_id}", err=True)
        sys.exit(130)
