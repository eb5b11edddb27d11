"""DataDecide eval results (pure; `--format datadecide`, CSV or JSONL): params, data, task, step, seed, tokens,
compute, metrics (a dict, or a dict-like string with single quotes, read with
ast.literal_eval; a bare nan is missing). run = data, or "data [seed S]" for a seed other than
"default" (attrs["seed"] either way, and attrs["data"]); size = params label; one row per
numeric entry of metrics (metric = its key).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.ingest.json_records import iter_json_records, lone_surrogate_field
from engine.ingest.results.rows import (
    Parsed,
    ReadOptions,
    as_float,
    bad_file,
    csv_rows,
    parse_count,
    size_label,
    walk_files,
)
from engine.ingest.sources import PathSource

DD_REQUIRED = ("params", "data", "task", "step", "metrics")


def _records(path: str) -> list[tuple[int, dict[str, Any]]]:
    if path.endswith((".jsonl", ".json")):
        out = []
        for rec in iter_json_records(PathSource(Path(path))):  # the shared JSON reader
            if isinstance(rec, InputError):
                raise rec
            out.append((rec.line, rec.data))
        return out
    return list(csv_rows(path)[1])


def _metrics_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    text = re.sub(r"(?<![\w'\"])(nan|NaN|inf|-inf|Infinity)(?![\w'\"])", "None", str(value))
    try:
        out = ast.literal_eval(text)
    except (RecursionError, MemoryError):
        raise ValueError("metrics is nested too deeply") from None
    if not isinstance(out, dict):
        raise ValueError("metrics is not a dict")
    bad = lone_surrogate_field(out, "metrics")
    if bad is not None:  # a Python string literal may spell one ("\ud800")
        raise ValueError(f"{bad} holds an unpaired surrogate, which is not valid Unicode text")
    return out


def parse_datadecide(paths: Sequence[str], parsed: Parsed, options: ReadOptions) -> None:
    stage, skip_bad = options.stage, options.skip_bad
    for path in walk_files(paths, (".csv", ".jsonl", ".json")):
        parsed.files += 1
        try:
            recs = _records(path)
        except (OSError, UnicodeDecodeError) as exc:
            bad_file(
                parsed,
                InputError(f"cannot read ({exc})", file=path, fix="check the file"),
                skip_bad,
            )
            continue
        except InputError as exc:
            bad_file(parsed, exc, skip_bad)
            continue
        if recs and any(k not in recs[0][1] for k in DD_REQUIRED):
            missing = [k for k in DD_REQUIRED if k not in recs[0][1]]
            bad_file(
                parsed,
                InputError(
                    f"unknown shape: no {', '.join(missing)} column(s)",
                    file=path,
                    fix="expected DataDecide rows: params, data, task, step, seed, tokens, compute, "
                    "metrics",
                ),
                skip_bad,
            )
            continue
        for line, rec in recs:
            try:
                metrics = _metrics_dict(rec["metrics"])
                params = parse_count(rec["params"])
                tokens = parse_count(rec.get("tokens"))
                step = parse_count(rec["step"])
                compute = as_float(rec.get("compute"))
            except (ValueError, SyntaxError, TypeError) as exc:
                bad_file(
                    parsed,
                    InputError(
                        str(exc),
                        file=path,
                        line=line,
                        field="metrics/params/tokens/step",
                        fix="metrics a dict-like string, counts numbers",
                    ),
                    skip_bad,
                )
                continue
            data, seed = str(rec["data"]), rec.get("seed")
            seed = None if seed in (None, "") else str(seed)
            run = data if seed in (None, "default") else f"{data} [seed {seed}]"
            attrs = {"data": data, "seed": seed, "compute": compute}
            label = (
                str(rec["params"]).strip() if not isinstance(rec["params"], int | float) else None
            )
            base = {
                "run": run,
                "size": label or size_label(params),
                "params": params,
                "tokens": tokens,
                "step": step,
                "stage": stage,
                "benchmark": str(rec["task"]),
                "attrs": attrs,
                "source": f"{path}:{line}",
            }
            for metric, value in metrics.items():
                if isinstance(value, bool) or not isinstance(value, int | float | type(None)):
                    continue
                parsed.add(base, str(metric), value, f"{path}:{line}")
