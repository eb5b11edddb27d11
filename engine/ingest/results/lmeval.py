"""lm-evaluation-harness results (pure): results JSON v0.3 and v0.4, and v0.4 samples files.

Results JSON: `results.<task>.<metric>` (v0.3: "acc", "acc_norm", "acc_stderr"; v0.4:
"acc,none", "acc_stderr,none", where a stderr may be the string "N/A"). One long row per task
and metric; a metric's stderr rides in the row's attrs ("stderr": float or None), never as a
row of its own. A v0.4 filter other than "none" is kept in the metric name
("exact_match:strict-match").

Shots: zero-shot rows carry the bare metric ("acc"); k-shot rows (k > 0) carry "acc_<k>shot"
("acc_5shot"), so both live side by side under one run and step; attrs["shots"] = k always.
k comes from the file (v0.3 config.num_fewshot, v0.4 "n-shot"), else from the path
("five-shot" folder, "5shot" in the name).

Run, size, step, tokens: from config.model_args (pretrained=EleutherAI/pythia-160m,
revision=step1000) or, failing that, from the path. run = the model's name without its
organisation ("pythia-160m", "pythia-1.4b-deduped"), with Pythia's "-v1.1" version tag dropped
so runs match their folder names; size and params from the name ("160m" -> "160M", 160e6);
step from "revision=step<N>" or "step<N>" in the file name; stage as given (default PT).
Pythia layout (pythia-v1/<model>/<zero-shot|five-shot|baseline|intervention>/<...>_step<N>.json):
a folder other than zero-shot/five-shot is an evaluation set (attrs["eval_set"]) and, unless the
model name already says it, a suffix of the run ("pythia-1.4b-deduped-baseline"), because those
files re-evaluate the same checkpoints.
Tokens (Pythia only, a model whose name contains "pythia"): step x tokens per step, where
tokens per step = 2,097,152 (1024 sequences x 2048 tokens), or x * 1,048,576 for the "-<x>MtokBS"
batch-size variants (0.25 -> 262,144; 0.5 -> 524,288; 1 -> 1,048,576), which every variant's
last step confirms (all reach ~300B tokens). Other models: tokens stay empty.

Samples (v0.4 `samples_<task>_<timestamp>.jsonl`): per line `doc_id`, `target` (gold index, or
the gold choice's text), `filtered_resps` (or `resps`) with one `[loglik, is_greedy]` per
choice, as a list or a string ("['-1.23', 'False']"), and `arguments`, one (context,
continuation) per choice ({"gen_args_0": {"arg_0": ..., "arg_1": ...}} or a list of pairs).
The continuation is the task's `target_delimiter` (the results JSON's configs.<task>, else
lm-eval's default " ") then the choice, so the choice's own text is the continuation without
that delimiter. Gives per-item rows (eval_items: log-likelihoods, gold, choices, delimiter)
and the long rows of engine.analysis.mc computed from them: "acc", "acc_norm", "acc_bytes"
(lm-eval's formulas), "acc_per_char" (OLMES's: over the continuation, delimiter counted) and
"confidence". Without `arguments`, or for a task whose choices sit in the contexts
(multiple_input, e.g. winogrande, where lm-eval's lengths are the contexts'), only "acc" and
"confidence". Where a line carries lm-eval's own per-item `acc_norm` / `acc_bytes` / `acc`, an
item on which betr's prediction differs is counted in a note. Run and step come from the
results JSON next to it (same timestamp first), else the path. When a results JSON of the same
import already gives a row with the same key, the results JSON's row is kept and the samples
one dropped; the two values are compared (`Parsed.checks`), and a difference is noted.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.analysis.mc import ACCURACIES, mc_metrics
from engine.errors import InputError
from engine.ingest.json_records import iter_json_records, load_json_document
from engine.ingest.results.rows import Parsed, ReadOptions, bad_file, size_from_name, walk_files
from engine.ingest.sources import PathSource

PYTHIA_TOKENS_PER_STEP = 2_097_152  # 1024 sequences x 2048 tokens
SHOT_FOLDERS = {"zero-shot": 0, "one-shot": 1, "five-shot": 5, "ten-shot": 10}
_NOT_METRICS = {"alias", "name", "samples", "sample_len", "sample_count"}
EXPECTED = (
    "an lm-evaluation-harness results JSON (a 'results' object of task -> {metric: value}, "
    "v0.3 or v0.4) or a v0.4 samples_<task>_<timestamp>.jsonl file"
)


def parse_lmeval(paths: Sequence[str], parsed: Parsed, options: ReadOptions) -> None:
    stage, skip_bad = options.stage, options.skip_bad
    files = walk_files(paths, (".json", ".jsonl"))
    results_keys: dict[tuple[Any, ...], float] = {}
    samples_rows: list[dict[str, Any]] = []
    for path in files:
        parsed.files += 1
        n_rows, n_items = len(parsed.rows), len(parsed.items)
        try:
            if os.path.basename(path).startswith("samples_") or path.endswith(".jsonl"):
                before = len(parsed.rows)
                _parse_samples(path, parsed, stage)
                samples_rows.extend(parsed.rows[before:])
                del parsed.rows[before:]
            else:
                before = len(parsed.rows)
                _parse_results_file(path, parsed, stage)
                results_keys.update((_key(r), r["value"]) for r in parsed.rows[before:])
        except InputError as exc:
            del parsed.rows[n_rows:], parsed.items[n_items:]  # a skipped file adds nothing
            bad_file(parsed, exc, skip_bad)
    kept = [r for r in samples_rows if _key(r) not in results_keys]
    if len(kept) < len(samples_rows):
        parsed.notes.append(
            f"{len(samples_rows) - len(kept)} samples-derived row(s) also in a results JSON: "
            "kept the results JSON's"
        )
    _check_against_results(samples_rows, results_keys, parsed)
    parsed.rows.extend(kept)


def _check_against_results(
    samples_rows: list[dict[str, Any]], results: dict[tuple[Any, ...], float], parsed: Parsed
) -> None:
    """Each samples-derived value that a results JSON also gives, side by side (checks), and
    a note for each that differs (more than float noise)."""
    for r in samples_rows:
        if _key(r) not in results:
            continue
        theirs = results[_key(r)]
        agree = abs(r["value"] - theirs) <= 1e-9
        parsed.checks.append(
            {
                "run": r["run"],
                "step": r["step"],
                "benchmark": r["benchmark"],
                "metric": r["metric"],
                "samples": r["value"],
                "results_json": theirs,
                "agree": agree,
            }
        )
        if not agree:
            parsed.notes.append(
                f"{r['benchmark']} {r['metric']} ({r['run']}): {r['value']:.6g} from the "
                f"samples but {theirs:.6g} in the results JSON"
            )


def _key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["run"], r["size"], r["tokens"], r["step"], r["stage"], r["benchmark"], r["metric"])


def _load_json(path: str) -> Any:
    """The whole file, by the importers' shared JSON reader (engine.ingest.json_records)."""
    return load_json_document(PathSource(Path(path)))


# -- model, step, shots ---------------------------------------------------------------------
def model_args(config: Any) -> dict[str, str]:
    """config.model_args as a dict (v0.3/v0.4 "k=v,k=v" string, or already a dict)."""
    if not isinstance(config, dict):
        return {}
    args = config.get("model_args")
    if isinstance(args, dict):
        return {str(k): str(v) for k, v in args.items()}
    out: dict[str, str] = {}
    if isinstance(args, str):
        for part in args.split(","):
            k, sep, v = part.partition("=")
            if sep:
                out[k.strip()] = v.strip()
    return out


def run_name(model: str) -> str:
    """ "EleutherAI/pythia-v1.1-160m" -> "pythia-160m"; "EleutherAI__pythia-160m" (v0.4 output
    folder) -> "pythia-160m"; a local path -> its last component."""
    name = model.rstrip("/").replace("__", "/").rsplit("/", 1)[-1]
    return re.sub(r"pythia-v\d+(?:\.\d+)*-", "pythia-", name)


def _path_model(path: str) -> tuple[str | None, str | None]:
    """(model folder name, evaluation-set folder) from the path (Pythia layout or v0.4
    output folders)."""
    parent = os.path.dirname(os.path.abspath(path))
    folder = os.path.basename(parent)
    grand = os.path.basename(os.path.dirname(parent))
    if folder in SHOT_FOLDERS or re.fullmatch(r"\d+-?shot", folder):
        return grand or None, None
    if grand.lower().startswith("pythia") and not folder.lower().startswith("pythia"):
        return grand, folder
    return folder or None, None


def tokens_per_step(run: str) -> int | None:
    if "pythia" not in run.lower():
        return None
    m = re.search(r"(\d+(?:\.\d+)?)MtokBS", run)
    if m:
        return round(float(m.group(1)) * 1_048_576)
    return PYTHIA_TOKENS_PER_STEP


def model_info(config: Any, path: str, model_name: Any = None) -> dict[str, Any]:
    """run, size, params, step, tokens and attrs of a results file."""
    args = model_args(config)
    path_model, eval_set = _path_model(path)
    model = args.get("pretrained") or args.get("model") or args.get("path")
    if not model and isinstance(model_name, str) and model_name:
        model = model_name
    if not model:
        model = path_model
    if not model:
        raise InputError(
            "cannot tell the model: no config.model_args pretrained=... and no model folder",
            file=path,
            fix="put the file in a folder named after the model, or add config.model_args",
        )
    run = run_name(model)
    attrs: dict[str, Any] = {}
    if eval_set:
        attrs["eval_set"] = eval_set
        if eval_set.lower() not in run.lower():
            run = f"{run}-{eval_set}"
    step = None
    m = re.fullmatch(r"step[_-]?(\d+)", args.get("revision", ""))
    if m is None:
        m = re.search(r"step[_-]?(\d+)", os.path.basename(path))
    if m is not None:
        step = int(m.group(1))
    size, params = size_from_name(run)
    per_step = tokens_per_step(run)
    tokens = step * per_step if step is not None and per_step is not None else None
    if per_step is not None and tokens is not None:
        attrs["tokens_per_step"] = per_step
    return {
        "run": run,
        "size": size,
        "params": params,
        "step": step,
        "tokens": tokens,
        "attrs": attrs,
    }


def _path_shots(path: str) -> int | None:
    parts = os.path.abspath(path).split(os.sep)
    for part in reversed(parts[:-1]):
        if part in SHOT_FOLDERS:
            return SHOT_FOLDERS[part]
    m = re.search(r"(\d+)-?shot", os.path.basename(path))
    return int(m.group(1)) if m else None


def _shots(data: dict[str, Any], task: str, path: str) -> int:
    nshot = data.get("n-shot")
    if isinstance(nshot, dict) and isinstance(nshot.get(task), int):
        return int(nshot[task])
    cfg = data.get("configs")
    if isinstance(cfg, dict) and isinstance(cfg.get(task), dict):
        k = cfg[task].get("num_fewshot")
        if isinstance(k, int):
            return k
    k = data.get("config", {}).get("num_fewshot") if isinstance(data.get("config"), dict) else None
    if isinstance(k, int):
        return k
    return _path_shots(path) or 0


def metric_name(metric: str, filt: str | None, shots: int) -> str:
    name = metric if filt in (None, "none") else f"{metric}:{filt}"
    return f"{name}_{shots}shot" if shots else name


# -- results JSON -----------------------------------------------------------------------------
def _parse_results_file(path: str, parsed: Parsed, stage: str) -> None:
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise InputError(
            "unknown shape: no 'results' object", file=path, fix=f"expected {EXPECTED}"
        )
    info = model_info(data.get("config"), path, data.get("model_name"))
    for task, metrics in data["results"].items():
        if not isinstance(metrics, dict):
            raise InputError(
                f"results.{task} is not an object of metrics",
                file=path,
                field=f"results.{task}",
                fix=f"expected {EXPECTED}",
            )
        shots = _shots(data, task, path)
        values: dict[tuple[str, str | None], Any] = {}
        stderrs: dict[tuple[str, str | None], Any] = {}
        for key, value in metrics.items():
            metric, _, filt = key.partition(",")
            if metric in _NOT_METRICS or isinstance(value, dict | list):
                continue
            target = stderrs if metric.endswith("_stderr") else values
            base = metric[: -len("_stderr")] if metric.endswith("_stderr") else metric
            target[(base, filt or None)] = value
        for (metric, filt), value in values.items():
            attrs = dict(info["attrs"], shots=shots)
            if (metric, filt) in stderrs:
                try:
                    attrs["stderr"] = _maybe_float(stderrs[(metric, filt)])
                except ValueError as exc:
                    raise InputError(
                        f"stderr {stderrs[(metric, filt)]!r} is not a number",
                        file=path,
                        field=f"results.{task}.{metric}_stderr",
                        fix='give a number, or "N/A"',
                    ) from exc
            base = {**info, "stage": stage, "benchmark": task, "attrs": attrs, "source": path}
            try:
                parsed.add(base, metric_name(metric, filt, shots), value, path)
            except ValueError as exc:
                raise InputError(
                    f"value {value!r} is not a number",
                    file=path,
                    field=f"results.{task}.{metric}",
                    fix="give a number",
                ) from exc


def _maybe_float(value: Any) -> float | None:
    from engine.ingest.results.rows import as_float

    return as_float(value)


# -- samples JSONL ----------------------------------------------------------------------------
def _choice_loglik(resp: Any) -> float:
    """One choice's [loglik, is_greedy] (a list, a tuple, a string of one, or that wrapped in
    a one-element list as in `resps`) -> loglik."""
    if isinstance(resp, str):
        resp = ast.literal_eval(resp)
    if isinstance(resp, list | tuple) and len(resp) == 1:
        return _choice_loglik(resp[0])
    if isinstance(resp, list | tuple) and len(resp) == 2:
        v = float(resp[0])
        if not np.isfinite(v):
            raise ValueError(f"log-likelihood {resp[0]!r} is not finite")
        return v
    raise ValueError(f"not a [loglik, is_greedy] pair: {resp!r}")


def _gold(rec: dict[str, Any], n: int) -> int:
    target = rec.get("target")
    if isinstance(target, str) and target.strip().lstrip("-").isdigit():
        target = int(target.strip())
    if isinstance(target, list) and len(target) == 1:
        target = target[0]
    if isinstance(target, str):
        doc = rec.get("doc") if isinstance(rec.get("doc"), dict) else {}
        choices = doc.get("choices")
        if isinstance(choices, dict):
            choices = choices.get("text")
        if isinstance(choices, list) and target in choices:
            return choices.index(target)
        for k in ("gold", "label", "answer"):
            if isinstance(doc.get(k), int):
                target = doc[k]
                break
    if not isinstance(target, int) or isinstance(target, bool):
        raise ValueError(f"cannot tell the gold choice from target {rec.get('target')!r}")
    if not 0 <= target < n:
        raise ValueError(f"gold index {target} is outside the {n} choices")
    return target


def _samples_info(path: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """(model info, benchmark, the results JSON next to it or {})."""
    name = os.path.basename(path)
    m = re.fullmatch(r"samples_(.+?)_(\d{4}-\d{2}-\d{2}T[\d\-:.]+)\.jsonl", name)
    stamp = m.group(2) if m else None
    if m is None:
        m = re.fullmatch(r"samples_(.+)\.jsonl", name)
    if m is None:
        raise InputError(
            "unknown shape: not a samples_<task>_<timestamp>.jsonl name",
            file=path,
            fix=f"expected {EXPECTED}",
        )
    folder = os.path.dirname(path)
    results: dict[str, Any] = {}
    candidates = sorted(
        f for f in os.listdir(folder) if f.startswith("results") and f.endswith(".json")
    )
    if stamp:
        candidates.sort(key=lambda f: stamp not in f)
    for f in candidates:
        try:
            data = _load_json(os.path.join(folder, f))
        except InputError:
            continue
        if isinstance(data, dict) and isinstance(data.get("results"), dict):
            results = data
            break
    info = model_info(results.get("config"), path, results.get("model_name"))
    return info, m.group(1), results


def _arguments(rec: dict[str, Any], n: int) -> list[tuple[str, str]] | None:
    """The (context, continuation) per choice from `arguments` ({"gen_args_0": {"arg_0": ctx,
    "arg_1": cont}, ...} as v0.4 writes it, or a list of pairs), or None when absent."""
    args = rec.get("arguments")
    if isinstance(args, dict):
        args = [args.get(f"gen_args_{i}") for i in range(len(args))]
        args = [[a.get("arg_0"), a.get("arg_1")] if isinstance(a, dict) else a for a in args]
    if args is None:
        return None
    if not isinstance(args, list) or len(args) != n:
        raise ValueError(f"{n} log-likelihoods but arguments for {len(args or [])} choices")
    pairs = []
    for a in args:
        if not (
            isinstance(a, list | tuple) and len(a) >= 2 and all(isinstance(x, str) for x in a[:2])
        ):
            raise ValueError(f"an argument is not a (context, continuation) pair: {a!r}")
        pairs.append((a[0], a[1]))
    return pairs


def _delimiter(results: dict[str, Any], task: str) -> str:
    """The task's target_delimiter (results JSON configs), else lm-eval's default " "."""
    cfg = results.get("configs") if isinstance(results.get("configs"), dict) else {}
    delim = cfg.get(task, {}).get("target_delimiter") if isinstance(cfg.get(task), dict) else None
    return delim if isinstance(delim, str) else " "


def _choices(
    pairs: list[tuple[str, str]] | None, delim: str
) -> tuple[list[str] | None, str | None]:
    """(the choices' own texts, the delimiter before them): each continuation without the
    delimiter, or whole with delimiter "" when not every continuation starts with it (lm-eval
    drops it under a chat template); (None, None) when the choices sit in the contexts (one
    continuation after several contexts: multiple_input tasks)."""
    if pairs is None or (len(pairs) > 1 and len({ctx for ctx, _ in pairs}) > 1):
        return None, None
    if not all(c.startswith(delim) for _, c in pairs):
        delim = ""
    return [c[len(delim) :] for _, c in pairs], delim


def _parse_samples(path: str, parsed: Parsed, stage: str) -> None:
    info, task, results = _samples_info(path)
    shots = _shots(results, task, path) if results else (_path_shots(path) or 0)
    delim = _delimiter(results, task)
    items: list[dict[str, Any]] = []
    continuations: list[list[int] | None] = []  # characters of each scored continuation
    own: list[dict[str, float]] = []  # lm-eval's own per-item metric values, where given
    for record in iter_json_records(PathSource(Path(path))):  # the shared JSON Lines reader
        if isinstance(record, InputError):
            raise record
        lineno, rec = record.line, record.data
        try:
            resps = rec.get("filtered_resps", rec.get("resps"))
            if not isinstance(resps, list) or not resps:
                raise ValueError("no filtered_resps/resps list")
            ll = [_choice_loglik(r) for r in resps]
            gold = _gold(rec, len(ll))
            pairs = _arguments(rec, len(ll))
        except (ValueError, SyntaxError, TypeError, OverflowError, RecursionError) as exc:
            raise InputError(
                str(exc)[:300] or type(exc).__name__,
                file=path,
                line=lineno,
                field="filtered_resps/target/arguments",
                fix="expected one [loglik, is_greedy] per choice, an integer target and one "
                "(context, continuation) argument per choice",
            ) from None
        choices, item_delim = _choices(pairs, delim)
        continuations.append([len(c) for _, c in pairs] if choices is not None else None)
        own.append({m: rec[m] for m in ACCURACIES if isinstance(rec.get(m), int | float)})
        item = rec.get("doc_id", lineno - 1)
        items.append(
            {
                **{k: info[k] for k in ("run", "size", "params", "tokens", "step")},
                "stage": stage,
                "benchmark": task,
                "item": str(item),
                "gold": gold,
                "logliks": ll,
                "choices": choices,
                "delimiter": item_delim,
                "source": path,
            }
        )
    if not items:
        raise InputError("no samples in the file", file=path, fix=f"expected {EXPECTED}")
    res = mc_metrics(
        [it["logliks"] for it in items],
        [it["gold"] for it in items],
        [it["choices"] for it in items],
        continuations,
    )
    differ: dict[str, int] = {}
    for row, theirs in zip(res.rows, own, strict=True):
        for metric, value in theirs.items():
            if metric in row["correct"] and bool(value) != row["correct"][metric]:
                differ[metric] = differ.get(metric, 0) + 1
    for metric, n in sorted(differ.items()):
        parsed.notes.append(
            f"{path}: betr's {metric} differs from the file's own on {n} of {len(items)} items "
            f"(target delimiter {delim!r}: put the results JSON with its configs beside it)"
        )
    parsed.items.extend(items)
    attrs = dict(info["attrs"], shots=shots, n_items=len(items))
    base = {**info, "stage": stage, "benchmark": task, "attrs": attrs, "source": path}
    for metric, value in res.metrics().items():
        if value is not None:
            parsed.add(base, metric_name(metric, None, shots), value, path)
