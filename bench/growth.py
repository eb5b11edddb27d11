"""Growth: each step of the real pipeline timed at growing pool sizes, to see how its cost per
doc grows (flat = linear) and to plan a bigger pool from the slopes.

The pool: real-length documents, cycling ../shared/data/web_docs/combined_docs.jsonl (2,693
docs: Gutenberg, DCLM Common Crawl, WikiText-2, C4, Dolma CC; about 3,900 characters and 990
GPT-NeoX tokens on average) with unique ids; every copy after the first gets a light
perturbation, its copy number inserted as a word at a position drawn from its id (and the
texts the real file repeats get their repeat number), so no two texts are equal and nothing
dedups away. The targets: the first `--targets` (500) GSM8K train questions
and as many ARC-Easy questions (real benchmark items). Generating the pool and importing the
targets is setup, not timed.

Steps, each through the engine API in a process of its own (so its peak RSS is its own; the
worker processes a step starts are counted in it):
- import: `betr import docs` (read, tokenize on every core, insert + FTS5 index, chunked commits);
- import-no-fts (`--fts-compare`): the same import into a scratch workspace with the FTS5
  trigger dropped, to show what the full-text index costs;
- score: `betr score` with a fixed `--sample` (embed the sample and the targets with the bundled
  MiniLM, rank; cost per sample doc);
- train: the fastText classifier on the scored sample (defaults for the sample's size);
- apply: p(positive) for every doc of the pool, then the probability order;
- select: `betr select --keep 10%` (by tokens) exported to JSONL with the text;
- contamination: the 13-gram check of the kept set against the targets (every core);
- search: `betr docs --search` (an FTS5 query for a common word, the first 20 rows);
- tui-first-page, tui-page-down, tui-threshold: the app (headless, 160x48) from the key press to
  the frame that shows the result: `3` as soon as the app knows the run, the median of 10
  page-downs, the median of 10 `+` on the Threshold screen.

Printed per size and step: seconds, microseconds per doc of the pool (per sample doc for
score and train), the step process's peak RSS, the workspace's bytes on disk per doc after the step, and
growth: the ratio of the cost per doc to the previous size's (1.0 = linear; the TUI steps are
per key, so theirs should fall). Then a projection to `--project` docs from the two largest
sizes: time and disk grow with their measured per-doc slope, memory linearly.

    python bench/growth.py [--sizes 10000,100000,1000000] [--json] [--sample 1000]
                           [--fts-compare] [--steps import,score,...] [--work DIR]

`--json` prints only a JSON list of rows {"size", "step", "seconds", "us_per_doc",
"peak_rss_mb", "disk_bytes_per_doc"} (plus "unit_count", "cpu_seconds" (of the step's process and its workers, which moves far less
with the machine's load than the wall time), "load" (the 1-minute load average as the step
ended), "growth" and, for the projection, "projected": true).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SHARED = Path(os.environ.get("BETR_SHARED_DATA", REPO.parent / "shared" / "data"))
DOCS = SHARED / "web_docs" / "combined_docs.jsonl"
TARGETS = {
    "gsm8k": SHARED / "benchmarks" / "gsm8k" / "train.jsonl",
    "arc_easy": SHARED / "benchmarks" / "arc" / "arc_easy_test.jsonl",
}
KEEP = 0.10
SEARCH = "water"
STEPS = (
    "import",
    "import-no-fts",
    "score",
    "train",
    "apply",
    "select",
    "contamination",
    "search",
    "tui-first-page",
    "tui-page-down",
    "tui-threshold",
)
PER_KEY = {"search", "tui-first-page", "tui-page-down", "tui-threshold"}
PER_SAMPLE = {"score", "train"}  # work on the fixed BETR sample, whatever the pool size


# -- the pool --------------------------------------------------------------------------------
def perturb(text: str, tag: str, doc_id: str) -> str:
    """`text` with `tag` inserted as a word at a position drawn from the id: unique, and its
    length changes by a few characters."""
    words = text.split(" ")
    at = zlib.crc32(doc_id.encode()) % (len(words) + 1)
    return " ".join([*words[:at], tag, *words[at:]])


def pool_records(n_docs: int) -> Iterator[dict[str, Any]]:
    """`n_docs` records cycling the real docs. Copy c > 0 of a doc gets the word `c<c>`; the
    real file repeats some texts (boilerplate pages), so the k-th repeat also gets `d<k>`."""
    base = [json.loads(line) for line in DOCS.open(encoding="utf-8") if line.strip()]
    seen: dict[str, int] = {}
    repeat = []
    for rec in base:
        repeat.append(seen.get(rec["text"], 0))
        seen[rec["text"]] = repeat[-1] + 1
    for i in range(n_docs):
        src = base[i % len(base)]
        copy, k = i // len(base), repeat[i % len(base)]
        doc_id = f"{src['id']}-r{copy}"
        tag = (f"c{copy}" if copy else "") + (f"d{k}" if k else "")
        text = perturb(src["text"], tag, doc_id) if tag else src["text"]
        yield {"id": doc_id, "text": text, "source": src.get("source")}


def write_pool(n_docs: int, out: Path) -> None:
    with open(out, "w", encoding="utf-8") as fh:
        for rec in pool_records(n_docs):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def write_targets(tmp: Path, n_targets: int) -> dict[str, Path]:
    out = {}
    for name, path in TARGETS.items():
        dest = tmp / f"{name}.jsonl"
        with open(path, encoding="utf-8") as fh:
            dest.write_text("".join(islice(fh, n_targets)), encoding="utf-8")
        out[name] = dest
    return out


def disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


# -- one step, in its own process ------------------------------------------------------------
def step_main(step: str, ws_root: Path, pool: Path, sample: int) -> dict[str, Any]:
    """Run `step` on the workspace; returns {"seconds", "unit_count", ...}."""
    from engine.api.jobs import queue, run_here
    from engine.workspace import Workspace

    ws = Workspace.open(ws_root)
    t0 = time.perf_counter()
    extra: dict[str, Any] = {}
    if step in ("import", "import-no-fts"):
        from engine.api.imports import import_docs_spec

        spec = import_docs_spec(ws, corpus="pool", paths=[str(pool)], meta_fields=["source"])
        t0 = time.perf_counter()
        result = run_here(ws, queue(ws, spec))
        extra = {"unit_count": result["docs"], "tokens": result["tokens"]}
    elif step == "score":
        from engine.api.runs import ScoreRequest, create_run, plan_score_run
        from engine.jobs.specs import ScoreSpec

        conn = ws.connect()
        try:
            config = plan_score_run(
                conn, ScoreRequest("pool", ",".join(TARGETS), sample=sample)
            ).config
            run_id = create_run(conn, config)
        finally:
            conn.close()
        run_here(ws, queue(ws, ScoreSpec(run_id=run_id, device="cpu")))
    elif step == "train":
        from engine.jobs.specs import TrainSpec

        result = run_here(ws, queue(ws, TrainSpec(run_id=1)))
        extra = {"auc": result.get("roc_auc"), "p_spread": result.get("p_spread")}
    elif step == "apply":
        from engine.jobs.specs import ApplySpec

        result = run_here(ws, queue(ws, ApplySpec(run_id=1)))
        extra = {"unit_count": result["docs"]}
    elif step == "select":
        from engine.api.select import select_and_export

        out = ws_root.parent / "selection.jsonl"
        result = select_and_export(ws, 1, KEEP, "tokens", out)
        extra = {"kept_docs": result.kept_docs}
        out.unlink()
    elif step == "contamination":
        from engine.api.contamination import plan_check

        plan = plan_check(ws, 1, keep=KEEP, by="tokens")
        assert plan.spec is not None, "a check of the kept set was already stored"
        run_here(ws, queue(ws, plan.spec))
        extra = {"checked_docs": plan.upto}
    elif step == "search":
        from engine.api.browse import Query, docs_page

        total, rows = docs_page(ws, 1, Query(search=SEARCH), 0, 20)
        assert rows, f"no doc matches '{SEARCH}'"
        extra = {"matches": total}
    elif step.startswith("tui-"):
        return {"seconds": asyncio.run(tui_step(ws, step)) / 1000}
    else:
        raise SystemExit(f"unknown step {step}")
    return {"seconds": time.perf_counter() - t0, **extra}


async def tui_step(ws: Any, step: str) -> float:
    """ms from the key press to the frame showing the result (a median of 10 for the keys
    that repeat)."""
    from bench.keyframe import KeyFrameTimer, top_row_loaded
    from tui.app import BetrApp
    from tui.screens.documents.screen import DocumentsScreen
    from tui.screens.threshold.screen import ThresholdScreen

    app = BetrApp(ws, probe_device=lambda _pref: "cpu (bench)")
    timer = KeyFrameTimer()
    async with timer, app.run_test(size=(160, 48)) as pilot:
        await timer.until(lambda: app.session.run_id is not None)
        if step != "tui-first-page":
            await pilot.pause(2.0)  # the app warms the run's index in the background
        first = await timer.press_ms(
            pilot,
            "3",
            lambda: isinstance(app.screen, DocumentsScreen) and top_row_loaded(app.screen),
        )
        if step == "tui-first-page":
            return first
        if step == "tui-page-down":
            screen = app.screen
            downs = []
            for _ in range(10):
                before = screen.doclist.scroll_y
                downs.append(
                    await timer.press_ms(
                        pilot,
                        "pagedown",
                        lambda b=before: screen.doclist.scroll_y != b and top_row_loaded(screen),
                    )
                )
            return statistics.median(downs)
        await timer.press_ms(
            pilot, "4", lambda: isinstance(app.screen, ThresholdScreen) and bool(app.screen.stats)
        )
        th = app.screen
        ups = []
        for _ in range(10):
            before = th.stats.keep_percent
            ups.append(
                await timer.press_ms(pilot, "plus", lambda b=before: th.stats.keep_percent != b)
            )
            await pilot.pause(0.4)  # the plots redraw once the keep rests
        return statistics.median(ups)


def run_step(step: str, ws_root: Path, pool: Path, sample: int) -> dict[str, Any]:
    """The step in a child process; its result with the child's peak RSS (and its workers')."""
    env = dict(os.environ, BETR_CONFIG=str(ws_root.parent / "no-config.toml"))
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--step",
            step,
            "--ws",
            str(ws_root),
            "--pool",
            str(pool),
            "--sample",
            str(sample),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    if done.returncode != 0:
        raise SystemExit(f"step {step} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_main(args: argparse.Namespace) -> None:
    result = step_main(args.step, args.ws, args.pool, args.sample)
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["peak_rss_mb"] = max(own.ru_maxrss, workers.ru_maxrss) / 1024  # Linux reports KiB
    # CPU seconds of the step's process and its workers (setup included): on a shared machine
    # this moves far less with the load than the wall time does
    result["cpu_seconds"] = sum(u.ru_utime + u.ru_stime for u in (own, workers))
    print(json.dumps(result, default=str))


# -- sizes, rows, the table ------------------------------------------------------------------
def measure_size(
    n: int, steps: list[str], sample: int, n_targets: int, work: Path, say, reuse: bool = False
) -> list[dict[str, Any]]:
    from engine.api.imports import import_benchmark
    from engine.ingest.readers import expand_sources
    from engine.workspace import Workspace

    root = work / f"n{n}"
    pool = root / "docs.jsonl"
    if reuse:  # the workspace --work kept: re-measure steps after the import on it
        ws = Workspace.open(root / "ws")
        say(f"-- {n:,} docs (the workspace kept in {root})")
    else:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        t0 = time.perf_counter()
        write_pool(n, pool)
        ws = Workspace.init(root / "ws")
        for name, path in write_targets(root, n_targets).items():
            import_benchmark(ws, expand_sources([str(path)]), name, split="train")
        say(
            f"-- {n:,} docs ({pool.stat().st_size / 1e6:,.0f} MB of JSONL, "
            f"setup {time.perf_counter() - t0:.0f} s)"
        )
    rows = []
    for step in steps:
        ws_root = ws.root
        if step == "import-no-fts":
            scratch = Workspace.init(root / "ws-no-fts")
            conn = scratch.connect()
            conn.execute("DROP TRIGGER docs_fts_insert")
            conn.close()
            ws_root = scratch.root
        result = run_step(step, ws_root, pool, sample)
        if step == "import-no-fts":
            disk = disk_bytes(ws_root)
            shutil.rmtree(ws_root)
        else:
            disk = disk_bytes(ws.root)
        unit = min(sample, n) if step in PER_SAMPLE else n
        row = {
            "size": n,
            "step": step,
            "seconds": round(result["seconds"], 6),
            "us_per_doc": round(result["seconds"] / unit * 1e6, 3),
            "peak_rss_mb": round(result["peak_rss_mb"], 1),
            "disk_bytes_per_doc": round(disk / n, 1),
            "unit_count": unit,
            "cpu_seconds": round(result["cpu_seconds"], 3),
            "load": round(os.getloadavg()[0], 2),  # 1-minute load average as the step ended
        }
        rows.append(row)
        say(
            f"  {step:<15} {row['seconds']:10.2f} s {row['us_per_doc']:12.1f} us/doc "
            f"{row['peak_rss_mb']:8.0f} MB {row['disk_bytes_per_doc']:9.0f} B/doc  "
            f"cpu {row['cpu_seconds']:.1f} s  load {row['load']}"
            + "".join(
                f"  {k} {v}"
                for k, v in result.items()
                if k not in ("seconds", "peak_rss_mb", "unit_count", "cpu_seconds")
            )
        )
    pool.unlink(missing_ok=True)
    return rows


def add_growth(rows: list[dict[str, Any]]) -> None:
    """growth = cost per doc at this size / at the previous size, per step."""
    last: dict[str, dict[str, Any]] = {}
    for row in rows:
        prev = last.get(row["step"])
        row["growth"] = (
            round(row["us_per_doc"] / prev["us_per_doc"], 3)
            if prev and prev["us_per_doc"] > 0
            else None
        )
        last[row["step"]] = row


def project(rows: list[dict[str, Any]], target: int) -> list[dict[str, Any]]:
    """Rows at `target` docs from the two largest sizes: per-doc time and disk keep growing at
    the measured rate per decade of size; memory is a line through the two sizes."""
    import math

    sizes = sorted({r["size"] for r in rows})
    if len(sizes) < 2:
        return []
    lo, hi = sizes[-2], sizes[-1]
    decades = math.log10(target / hi) / math.log10(hi / lo)
    out = []
    for step in dict.fromkeys(r["step"] for r in rows):
        a = next((r for r in rows if r["size"] == lo and r["step"] == step), None)
        b = next((r for r in rows if r["size"] == hi and r["step"] == step), None)
        if a is None or b is None:
            continue
        per_key = step in PER_KEY
        growth = b["us_per_doc"] / a["us_per_doc"] if a["us_per_doc"] > 0 else 1.0
        if per_key:  # a key's cost in absolute time: grows with its own measured ratio
            time_ratio = b["seconds"] / a["seconds"] if a["seconds"] > 0 else 1.0
            seconds = b["seconds"] * time_ratio**decades
        elif step in PER_SAMPLE:  # a fixed sample: the same work at any pool size
            seconds = b["seconds"] * growth**decades
        else:
            seconds = b["seconds"] * (target / hi) * max(growth, 1.0) ** decades
        slope = (b["peak_rss_mb"] - a["peak_rss_mb"]) / (hi - lo)
        unit = b["unit_count"] if step in PER_SAMPLE else target
        out.append(
            {
                "size": target,
                "step": step,
                "seconds": round(seconds, 4),
                "us_per_doc": round(seconds / unit * 1e6, 3),
                "peak_rss_mb": round(b["peak_rss_mb"] + max(slope, 0.0) * (target - hi), 0),
                "disk_bytes_per_doc": b["disk_bytes_per_doc"],
                "unit_count": unit,
                "growth": None,
                "projected": True,
            }
        )
    return out


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'size':>10} {'step':<15} {'seconds':>10} {'us/doc':>11} {'growth':>7} "
        f"{'CPU s':>9} {'peak RSS':>9} {'disk/doc':>9}"
    )
    for r in rows:
        growth = "" if r.get("growth") is None else f"{r['growth']:.2f}x"
        cpu = "" if r.get("cpu_seconds") is None else f"{r['cpu_seconds']:.1f}"
        mark = " (projected)" if r.get("projected") else ""
        print(
            f"{r['size']:>10,} {r['step']:<15} {r['seconds']:>10.2f} {r['us_per_doc']:>11.1f} "
            f"{growth:>7} {cpu:>9} {r['peak_rss_mb']:>6.0f} MB {r['disk_bytes_per_doc']:>7.0f} B{mark}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--json", action="store_true", help="only a JSON list of rows")
    ap.add_argument("--sample", type=int, default=1000, help="BETR sample scored at every size")
    ap.add_argument("--targets", type=int, default=500, help="examples of each benchmark")
    ap.add_argument("--fts-compare", action="store_true", help="also import without FTS5")
    ap.add_argument("--steps", default=None, help="comma list (default: all but import-no-fts)")
    ap.add_argument("--project", type=int, default=10_000_000, help="project to this many docs")
    ap.add_argument("--work", type=Path, default=None, help="keep the largest workspace here")
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="with --work: re-measure --steps (not import, score or contamination) on the kept "
        "workspace of each size",
    )
    ap.add_argument("--rows", type=Path, default=None, help="append each row to this JSONL")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--ws", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--pool", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        child_main(args)
        return
    for path in (DOCS, *TARGETS.values()):
        if not path.is_file():
            sys.exit(f"bench needs {path} (set BETR_SHARED_DATA)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sizes = [int(s) for s in args.sizes.split(",")]
    steps = args.steps.split(",") if args.steps else [s for s in STEPS if s != "import-no-fts"]
    if args.fts_compare and "import-no-fts" not in steps:
        steps.insert(steps.index("import") + 1 if "import" in steps else 0, "import-no-fts")
    unknown = set(steps) - set(STEPS)
    if unknown:
        sys.exit(f"unknown steps: {', '.join(sorted(unknown))} (known: {', '.join(STEPS)})")
    if args.reuse:
        if args.work is None:
            sys.exit("--reuse needs --work (where the kept workspaces are)")
        if {"import", "import-no-fts", "score", "contamination"} & set(steps):
            sys.exit(
                "--reuse re-measures steps after the import: leave out import, score, contamination"
            )
    elif "import" not in steps and steps[0] != "import-no-fts":
        sys.exit("every other step needs the pool imported: keep 'import' in --steps")

    def say(line: str) -> None:
        if not args.json:
            print(line, flush=True)

    say(
        f"growth: {', '.join(f'{n:,}' for n in sizes)} docs, {os.cpu_count()} cores "
        f"(load average {os.getloadavg()[0]:.1f}), BETR sample {args.sample}"
    )
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="betr-bench-growth-") as tmp:
        work = args.work or Path(tmp)
        for n in sizes:
            new = measure_size(n, steps, args.sample, args.targets, work, say, args.reuse)
            if args.rows:
                with open(args.rows, "a", encoding="utf-8") as fh:
                    fh.writelines(json.dumps(r) + "\n" for r in new)
            rows.extend(new)
            if not args.reuse and (not args.work or n != max(sizes)):  # --work keeps the largest
                shutil.rmtree(work / f"n{n}", ignore_errors=True)
    add_growth(rows)
    projected = project(rows, args.project) if args.project > max(sizes) else []
    if args.json:
        print(json.dumps(rows + projected))
        return
    print()
    print_table(rows + projected)
    largest = max(sizes)
    last = [r for r in rows if r["size"] == largest and r["growth"] is not None]
    if last:
        top = max(last, key=lambda r: r["growth"])
        print(
            f"largest growth of per-doc cost into {largest:,} docs: {top['step']} "
            f"{top['growth']:.2f}x (goal <= 1.3x from 100k to 1M; the wall time moves with the "
            "load column of the rows above)"
        )


if __name__ == "__main__":
    main()
