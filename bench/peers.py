"""Our apply vs datatrove's FastTextClassifierFilter: same JSONL shards, same fastText model.

Input: `--docs` records cycling over combined_docs.jsonl (unique ids), written as `--shards`
uncompressed JSONL shards (several files, so a second datatrove task has work). The model: a
BETR run's classifier trained on them (GSM8K target, paper settings, bucket 100 000, as
bench/apply.py builds it); the shards are imported into the workspace. Setup is not timed.

Timed from the outside, CLI start included, each as a subprocess:
  - ours, 1 and 2 workers: `betr apply --run R --workers N` (the local apply job: reads the
    imported corpus, p(positive) in N processes, writes doc_probs and the probability order
    to SQLite);
  - ours, 2 workers: `betr apply --run R --engine ray --input SHARDS --out DIR --num-cpus 2`
    (2 actors on a local Ray instance, Ray's start-up included; reads the JSONL shards, also
    counts tokens, writes Parquet), run only when `ray` imports and engine/exec/scale/ exists;
  - datatrove, 1 and 2 workers: LocalPipelineExecutor(tasks=N, workers=N) over JsonlReader ->
    FastTextClassifierFilter(keep_labels=("pos", 0.0), every doc scored) -> JsonlWriter
    (uncompressed), in its own venv bench/.peers-venv (created once here; datatrove is never
    installed into the project's venv).
Tokenizers run on one thread (RAYON_NUM_THREADS=1) so a worker is one core.

Scores: datatrove predicts on `text.strip().replace("\\n", "")` without lowercasing, ours on
normalize_text(text); so the check runs datatrove once more on shards holding
normalize_text(text) (normalize_text is idempotent, so ours is unchanged) and compares its
metadata["__label__pos"], clipped to [0, 1] as predict_positive clips (fastText adds 1e-5), with
our p(positive) doc for doc within 1e-6.

    python bench/peers.py [--docs 30000] [--shards 8] [--sample 200] [--skip-check]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.apply import DOCS, GSM8K, classifier_file, run_job  # noqa: E402
from engine.api.imports import import_benchmark, import_docs_spec  # noqa: E402
from engine.api.runs import ScoreRequest, create_run, plan_score_run  # noqa: E402
from engine.betr.classifier import normalize_text  # noqa: E402
from engine.ingest.readers import expand_sources  # noqa: E402
from engine.jobs.specs import ScoreSpec, TrainSpec  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

VENV = REPO / "bench" / ".peers-venv"
VENV_PY = VENV / "bin" / "python"
PEER_PACKAGES = ["datatrove[io,processing]", "fasttext-numpy2", "numpy"]
TOLERANCE = 1e-6

DATATROVE_SCRIPT = """
import sys

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.filters import FastTextClassifierFilter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter


def main():
    data, model, out, logs, workers = sys.argv[1:6]
    n = int(workers)
    LocalPipelineExecutor(
        pipeline=[
            JsonlReader(data, glob_pattern="*.jsonl", text_key="text", id_key="id"),
            FastTextClassifierFilter(model, keep_labels=("pos", 0.0)),
            JsonlWriter(out, compression=None),
        ],
        tasks=n,
        workers=n,
        logging_dir=logs,
    ).run()


if __name__ == "__main__":
    main()
"""


# -- environments --------------------------------------------------------------------------------
def ensure_peer_venv() -> None:
    """bench/.peers-venv with datatrove, created (once) with `python -m venv` and pip."""
    probe = [str(VENV_PY), "-c", "import datatrove, fasttext, orjson"]
    if VENV_PY.is_file() and subprocess.run(probe, capture_output=True).returncode == 0:
        return
    print(f"  setup: creating {VENV.relative_to(REPO)} with {' '.join(PEER_PACKAGES)} ...")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV_PY), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)  # PyPI
    subprocess.run(probe, check=True)


def ray_missing() -> str | None:
    """Why the Ray part cannot run, or None."""
    if importlib.util.find_spec("ray") is None:
        return "ray is not installed (pip install 'betr-tui[ray]')"
    if not (REPO / "engine" / "exec" / "scale" / "adapter.py").is_file():
        return "engine/exec/scale/adapter.py does not exist"
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        return f"ray does not import ({exc})"
    return None


def betr_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("betr")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "engine"]


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, RAYON_NUM_THREADS="1", HF_HUB_OFFLINE="1", **extra)
    env.pop("PYTHONPATH", None)
    return env


def timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    """Seconds the command takes, start-up included; raises with its output if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return elapsed


# -- data and model ------------------------------------------------------------------------------
def write_shards(n_docs: int, n_shards: int, out: Path, normalise: bool = False) -> list[Path]:
    """`n_docs` records cycling over combined_docs.jsonl, unique ids, in `n_shards` files."""
    base = [json.loads(line) for line in DOCS.open(encoding="utf-8") if line.strip()]
    out.mkdir(parents=True, exist_ok=True)
    per = -(-n_docs // n_shards)
    paths = []
    for k in range(n_shards):
        path = out / f"shard-{k:03d}.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(k * per, min(n_docs, (k + 1) * per)):
                src = base[i % len(base)]
                text = normalize_text(src["text"]) if normalise else src["text"]
                rec = {"id": f"{src['id']}-r{i // len(base)}", "text": text}
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths


def build_run(tmp: Path, shards: list[Path], sample: int) -> tuple[Workspace, int]:
    ws = Workspace.init(tmp / "ws")
    t0 = time.perf_counter()
    result = run_job(ws, import_docs_spec(ws, corpus="pool", paths=[str(p) for p in shards]))
    print(f"  setup: imported {result['docs']} docs in {time.perf_counter() - t0:.0f} s")
    gsm = tmp / "gsm8k.jsonl"
    with open(GSM8K, encoding="utf-8") as fh:
        gsm.write_text("".join(islice(fh, 40)), encoding="utf-8")
    import_benchmark(ws, expand_sources([str(gsm)]), "gsm8k")
    conn = ws.connect()
    try:
        config = plan_score_run(conn, ScoreRequest("pool", "gsm8k", sample=sample)).config
        run_id = create_run(conn, config)
    finally:
        conn.close()
    t0 = time.perf_counter()
    run_job(ws, ScoreSpec(run_id=run_id, device="cpu"))
    train = run_job(ws, TrainSpec(run_id=run_id, fasttext={"bucket": 100_000}))
    print(
        f"  setup: scored {sample} docs and trained the classifier in "
        f"{time.perf_counter() - t0:.0f} s (valid accuracy {train['accuracy']:.2f})"
    )
    return ws, run_id


# -- scores --------------------------------------------------------------------------------------
def ours_local_scores(ws: Workspace, run_id: int) -> dict[str, float]:
    conn = ws.connect(readonly=True)
    try:
        rows = conn.execute(
            "SELECT d.ext_id, p.prob FROM doc_probs p JOIN docs d ON d.id = p.doc_id "
            "WHERE p.run_id = ?",
            (run_id,),
        )
        return {ext: prob for ext, prob in rows}
    finally:
        conn.close()


def ours_ray_scores(out: Path) -> dict[str, float]:
    import pyarrow.parquet as pq

    scores: dict[str, float] = {}
    for path in sorted(out.glob("*.parquet")):
        table = pq.read_table(path, columns=["id", "prob"])
        scores.update(
            zip(table.column("id").to_pylist(), table.column("prob").to_pylist(), strict=True)
        )
    return scores


def datatrove_scores(out: Path) -> dict[str, float]:
    scores: dict[str, float] = {}
    for path in sorted(out.glob("*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                p = float(rec["metadata"]["__label__pos"])
                scores[rec["id"]] = min(1.0, max(0.0, p))
    return scores


def compare(name: str, ours: dict[str, float], theirs: dict[str, float], n_docs: int) -> int:
    """Prints the agreement; returns the number of mismatches (missing docs included)."""
    common = ours.keys() & theirs.keys()
    bad = sorted(
        (abs(ours[k] - theirs[k]), k) for k in common if abs(ours[k] - theirs[k]) > TOLERANCE
    )
    worst = max((abs(ours[k] - theirs[k]) for k in common), default=0.0)
    missing = n_docs - len(common)
    print(
        f"  scores {name} vs datatrove: {len(common)} docs compared, {len(bad)} differ by more "
        f"than {TOLERANCE:g} (max |diff| {worst:.2e}), {missing} not scored by both"
    )
    for diff, key in bad[-5:]:
        print(f"    {key}: ours {ours[key]:.9f} datatrove {theirs[key]:.9f} (|diff| {diff:.2e})")
    return len(bad) + missing


# -- the runs ------------------------------------------------------------------------------------
def run_datatrove(script: Path, data: Path, model: Path, out: Path, workers: int) -> float:
    env = child_env(HF_HOME=str(out.parent / "hf-home"))
    cmd = [str(VENV_PY), str(script), str(data), str(model), str(out), str(out) + "-logs"]
    return timed([*cmd, str(workers)], env)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=30_000)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--sample", type=int, default=200, help="BETR sample the classifier learns")
    ap.add_argument("--skip-check", action="store_true", help="no score comparison run")
    args = ap.parse_args()
    for path in (DOCS, GSM8K):
        if not path.is_file():
            sys.exit(f"bench needs {path} (set BETR_SHARED_DATA)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ensure_peer_venv()
    no_ray = ray_missing()
    with tempfile.TemporaryDirectory(prefix="betr-bench-peers-") as d:
        tmp = Path(d)
        shards = write_shards(args.docs, args.shards, tmp / "shards")
        ws, run_id = build_run(tmp, shards, args.sample)
        model = classifier_file(ws, run_id)
        script = tmp / "datatrove_fasttext.py"
        script.write_text(DATATROVE_SCRIPT, encoding="utf-8")
        mb = sum(p.stat().st_size for p in shards) / 1e6
        print(
            f"{args.docs} docs in {args.shards} JSONL shards ({mb:.0f} MB), classifier "
            f"{model.stat().st_size / 1e6:.0f} MB, {os.cpu_count()} cores "
            f"(load average {os.getloadavg()[0]:.1f})"
        )

        betr = [*betr_cmd(), "-w", str(ws.root)]
        t = {}
        t["dt1"] = run_datatrove(script, tmp / "shards", model, tmp / "dt1", 1)
        apply = [*betr, "apply", "--run", str(run_id), "--workers"]
        t["ours1"] = timed([*apply, "1"], child_env())
        t["dt2"] = run_datatrove(script, tmp / "shards", model, tmp / "dt2", 2)
        t["ours2"] = timed([*apply, "2"], child_env())
        if no_ray is None:
            ray_cmd = [
                *betr,
                "apply",
                "--run",
                str(run_id),
                "--engine",
                "ray",
                "--input",
                str(tmp / "shards" / "*.jsonl"),
                "--out",
                str(tmp / "ray"),
                "--num-cpus",
                "2",
                "--actors",
                "2",
            ]
            t["ray2"] = timed(ray_cmd, child_env())
        else:
            print(f"ray part skipped: {no_ray}")

        def rate(key: str) -> float:
            return args.docs / t[key]

        print(f"datatrove, 1 worker : {t['dt1']:6.2f} s  {rate('dt1'):8,.0f} docs/s")
        print(f"ours local, 1 proc  : {t['ours1']:6.2f} s  {rate('ours1'):8,.0f} docs/s")
        print(f"datatrove, 2 workers: {t['dt2']:6.2f} s  {rate('dt2'):8,.0f} docs/s")
        print(f"ours local, 2 procs : {t['ours2']:6.2f} s  {rate('ours2'):8,.0f} docs/s")
        if "ray2" in t:
            print(f"ours Ray, 2 CPUs    : {t['ray2']:6.2f} s  {rate('ray2'):8,.0f} docs/s")
        for n in (1, 2):
            ratio = rate(f"ours{n}") / rate(f"dt{n}")
            print(f"{n} worker(s): ours local / datatrove = {ratio:.2f}x (goal >= 1.3x)")
        if "ray2" in t:
            print(f"2 workers: ours Ray / datatrove = {rate('ray2') / rate('dt2'):.2f}x")

        if args.skip_check:
            return
        norm = write_shards(args.docs, args.shards, tmp / "norm", normalise=True)
        assert len(norm) == args.shards
        run_datatrove(script, tmp / "norm", model, tmp / "dt-norm", 2)
        theirs = datatrove_scores(tmp / "dt-norm")
        bad = compare("ours local", ours_local_scores(ws, run_id), theirs, args.docs)
        if "ray2" in t:
            bad += compare("ours Ray", ours_ray_scores(tmp / "ray"), theirs, args.docs)
        print("scores agree doc for doc" if bad == 0 else f"score check: {bad} mismatches")


if __name__ == "__main__":
    main()
