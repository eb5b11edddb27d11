"""The texts around the rBridge screen's data: the selected score's summary, the rBridge jobs'
progress lines, and the empty states that tell the user the next step."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from engine.api.jobs import JobInfo
from engine.api.rbridge_views import ProxyScore
from engine.units import format_duration, format_number
from tui.safe_text import one_line
from tui.screens.rbridge.tokens import fmt_num
from tui.widgets.cells import ThemeStyles, progress_cell

NARROW, WIDE = 100, 140  # the App's width breakpoints
JOB_KINDS = ("rbridge-score", "proxy-train", "proxy-mc-eval")
NO_TRACES = (  # {formats}: the trace formats' registry, read when shown (no_traces)
    "No reasoning traces yet. Import a frontier model's traces for an imported benchmark:\n"
    "  betr rbridge import PATH... --benchmark B --format {formats}\n"
    "(import the benchmark first with  betr import bench PATH --name B ; traces without "
    "log-probabilities get them from  betr rbridge teacher-force --model PATH)"
)


def no_traces() -> str:
    """NO_TRACES with the trace formats' names (the engine's registry, imported when shown)."""
    from engine.api.rbridge import trace_format_names

    return NO_TRACES.format(formats=trace_format_names())


NO_PROXIES = (
    "No proxies yet. Register a local Hugging Face causal LM directory:\n"
    "  betr proxy add PATH --tokens N --dataset NAME\n"
    "or press n to train a tiny one on a corpus (betr proxy train)."
)


def name(value: Any) -> str:
    return one_line(value)


def flags_text(flags: dict[str, int]) -> str:
    total = sum(flags.values())
    if not total:
        return "no flags"
    parts = ", ".join(f"{name(k)} {v}" for k, v in sorted(flags.items()))
    return f"flags: {parts}"


def bpb_text(row: ProxyScore) -> str:
    """The release's bpb (masked spans, corpus-level) where the traces have spans; else betr's
    per-trace prompt-conditioned bits per byte, under its own name."""
    if row.bpb is not None or row.bpb_prompted is None:
        return f"bpb {fmt_num(row.bpb)}"
    return f"bpb prompted {fmt_num(row.bpb_prompted)}"


def summary_text(row: ProxyScore | None, benchmark: str | None, *, width: int) -> str:
    """The selected proxy's numbers on the selected benchmark, for a screen `width` columns
    wide (two lines from 100 columns, three short ones below)."""
    if row is None or benchmark is None:
        return "pick a benchmark (b) and a proxy (p)"
    proxy = name(row.proxy)
    if row.score_id is None:
        if row.pending:
            return f"{proxy} on {name(benchmark)}: being scored (see the job line)"
        return f"{proxy} on {name(benchmark)}: not scored yet · S scores it (a background job)"
    scopes = {"trace": "per trace", "benchmark": "per benchmark"}
    scope = scopes.get(row.minmax or "", row.minmax)
    flagged = sum(row.flags.values())
    if width < NARROW:
        return (
            f"rBridge {fmt_num(row.rbridge)} · R-phi {fmt_num(row.nll_rphi)}\n"
            f"gold {fmt_num(row.nll_gold)} · {bpb_text(row)}\n"
            f"{row.n_traces} traces · {flagged} flagged · MinMax {row.minmax}"
        )
    n = f"{row.n_traces} traces ({row.n_scored} scored)"
    numbers = (
        f"rBridge {fmt_num(row.rbridge)} · R-phi {fmt_num(row.nll_rphi)} · "
        f"gold {fmt_num(row.nll_gold)} nats/token · {bpb_text(row)}"
    )
    if width < WIDE:
        return f"{numbers}\n{n} · {flags_text(row.flags)} · MinMax {scope}"
    return (
        f"{numbers}\n{n} · {flags_text(row.flags)} · MinMax {scope} · "
        f"score #{row.score_id} of {proxy} on {name(benchmark)}"
    )


def job_line(job: JobInfo, styles: ThemeStyles) -> Text:
    """ "#7 rbridge-score ━━━━╸━━━  40% 12/30 traces ETA 0:04 · title" (loss when training)."""
    line = Text(f"#{job.id} {job.kind} ", style="bold")
    if job.active:
        line.append_text(progress_cell(job.fraction, job.state, styles, width=16))
        total = f"/{job.total}" if job.total else ""
        line.append(f" {job.done}{total} {job.unit}")
        if job.eta_s is not None:
            line.append(f" ETA {format_duration(job.eta_s)}")
    else:
        line.append(job.state, style=styles.states.get(job.state))
        if job.error:
            line.append(f": {one_line(job.error.splitlines()[0])}")
    loss = (job.checkpoint or {}).get("loss")
    if isinstance(loss, int | float):
        line.append(f" · loss {format_number(loss, 4)}")
    line.append(f" · {one_line(job.title)}", style="dim")
    return line


def jobs_text(jobs: list[JobInfo], started: set[int], styles: ThemeStyles) -> Text | None:
    """Running rBridge and proxy jobs, and those started here that have finished."""
    shown = [j for j in jobs if j.kind in JOB_KINDS and (j.active or j.id in started)]
    if not shown:
        return None
    shown.sort(key=lambda j: (not j.active, -j.id))
    return Text("\n").join(job_line(j, styles) for j in shown[:3])
