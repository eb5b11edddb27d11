"""DCLM eval results (pure; `--format dclm`): `DCLM_model_database.csv` (one row per model: "Model JSON", Dataset,
model, params, tokens, per-task columns) and/or DCLM eval JSONs (exp_data/evals/*.json:
eval_metrics.icl per task, eval_metrics.downstream_perpexity, Core, Extended).
- run = Dataset (the data pool), size from params ("1.4B"), params, tokens, stage as given.
  Several models can share (Dataset, params, tokens) (hyper-parameter sweeps, re-evaluations):
  those runs get the hyper-parameters that tell them apart as a suffix,
  "c4_original [lr=0p01-wd=0p01]" (from the model file name), so nothing collides.
- metrics: per-task accuracy columns / icl -> "acc"; "perplexity.<task>" / downstream
  perplexity -> "perplexity"; Core and Extended -> benchmarks "dclm_core" / "dclm_extended",
  metric "centered_acc". The other aggregates are not imported.
- attrs: model (architecture), tokenizer, dataset, model_json and the hyper-parameters in the
  file name (warm, lr, wd, bs, mult, seed, ...).
- A JSON and the CSV row naming it ("Model JSON"): the JSON's numbers, the CSV's metadata.
  A JSON without a CSV row: dataset and tokens from its file name, params from the
  architecture (open_lm_1b 1,439,795,200; open_lm_7b 6,889,410,560; d=1024_l=24_h=8
  411,616,256, as in the database); published models (model "Qwen/Qwen2-7B", ...) are runs
  of their own name with the size in the name.
- eval_meta_data.csv (task metadata, no results) is recognised and skipped with a note.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.ingest.json_records import load_json_document
from engine.ingest.results.rows import (
    Parsed,
    ReadOptions,
    bad_file,
    csv_rows,
    parse_count,
    size_from_name,
    size_label,
    walk_files,
)
from engine.ingest.sources import PathSource

ARCH_PARAMS = {
    "open_lm_1b": 1_439_795_200,
    "open_lm_1b_swiglutorch": 1_439_795_200,
    "open_lm_7b": 6_889_410_560,
    "open_lm_7b_swiglutorch": 6_889_410_560,
    "d=1024_l=24_h=8": 411_616_256,
}
DCLM_META = {
    "Model JSON",
    "Dataset",
    "model",
    "params",
    "tokens",
    "name",
    "creation_date",
    "aggregated_results",
    "rw_small",
    "rw_small_centered",
    "95%_CI_above",
    "95%_CI_above_centered",
    "99%_CI_above",
    "99%_CI_above_centered",
    "low_variance_datasets",
    "model_uuid",
    "_filename",
    "missing tasks",
    "dataset_uuid",
    "tokenizer",
    "eval_metrics.perplexity",
    "Core",
    "Extended",
}
DCLM_AGGREGATES = {"Core": "dclm_core", "Extended": "dclm_extended"}


def _hyper(stem: str) -> list[str]:
    return [c for c in re.split(r"[-_](?=[A-Za-z]+=)", stem) if c]


def _hyper_attrs(stem: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for comp in _hyper(stem):
        k, sep, v = comp.partition("=")
        if sep and re.fullmatch(r"[a-z]+", k):
            num = v.replace("p", ".")
            try:
                out[k] = float(num) if re.fullmatch(r"[\d.e+-]+", num) else v
            except ValueError:
                out[k] = v
    return out


def _stem(json_name: str) -> str:
    stem = os.path.basename(json_name)
    stem = re.sub(r"\.json$", "", stem)
    stem = re.sub(r"^evaluation_", "", stem)
    return re.sub(r"_heavy$", "", stem)


def _dclm_model_from_json(path: str, data: dict[str, Any]) -> dict[str, Any]:
    model = str(data.get("model") or "")
    stem = _stem(path)
    idx = stem.find("-" + model) if model else -1
    rec: dict[str, Any] = {"key": os.path.basename(path), "model": model, "stem": stem}
    if idx > 0:
        rec["dataset"] = stem[:idx]
        m = re.search(r"tokens=(\d+)", stem)
        rec["tokens"] = int(m.group(1)) if m else None
        rec["params"] = ARCH_PARAMS.get(model)
    else:
        rec["dataset"] = model or stem
        rec["tokens"] = None
        rec["params"] = size_from_name(model or stem)[1]
    icl = data.get("eval_metrics", {}).get("icl", {})
    ppl = data.get("eval_metrics", {}).get("downstream_perpexity", {}) or {}
    values = [(t, "acc", v) for t, v in icl.items()]
    values += [(t, "perplexity", v) for t, v in ppl.items()]
    values += [(b, "centered_acc", data.get(k)) for k, b in DCLM_AGGREGATES.items() if k in data]
    rec["values"] = values
    rec["source"] = path
    return rec


def _dclm_model_from_csv(path: str, line: int, row: dict[str, str]) -> dict[str, Any]:
    key = row.get("Model JSON") or ""
    try:
        params = parse_count(row.get("params"))
        tokens = parse_count(row.get("tokens"))
    except ValueError as exc:
        raise InputError(
            str(exc), file=path, line=line, field="params/tokens", fix="give whole numbers"
        ) from exc
    values = []
    for col, value in row.items():
        if col is None or col in DCLM_META or col.startswith("aggregated_task_categories"):
            continue
        if col.startswith("perplexity."):
            values.append((col.split(".", 1)[1], "perplexity", value))
        elif "." not in col:
            values.append((col, "acc", value))
    values += [(b, "centered_acc", row.get(k)) for k, b in DCLM_AGGREGATES.items() if k in row]
    return {
        "key": key,
        "model": row.get("model") or "",
        "stem": _stem(key) if key else "",
        "dataset": row.get("Dataset") or row.get("model") or key,
        "params": params,
        "tokens": tokens,
        "tokenizer": row.get("tokenizer") or None,
        "values": values,
        "source": f"{path}:{line}",
    }


def _runs_for(models: list[dict[str, Any]]) -> None:
    """run = dataset, with the telling hyper-parameters as a suffix where several models
    share (dataset, params, tokens)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for m in models:
        groups.setdefault((m["dataset"], m["params"], m["tokens"]), []).append(m)
    for (dataset, _, _), members in groups.items():
        if len(members) == 1:
            members[0]["run"] = dataset
            continue
        comps = [
            _hyper(m["stem"][len(dataset) :] if m["stem"].startswith(dataset) else m["stem"])
            for m in members
        ]
        common = set.intersection(*(set(c) for c in comps))
        seen: set[str] = set()
        for m, c in zip(members, comps, strict=True):
            suffix = "-".join(x for x in c if x not in common).strip("-_") or m["key"]
            run = f"{dataset} [{suffix}]"
            while run in seen:
                run += "'"
            seen.add(run)
            m["run"] = run


def parse_dclm(paths: Sequence[str], parsed: Parsed, options: ReadOptions) -> None:
    stage, skip_bad = options.stage, options.skip_bad
    by_key: dict[str, dict[str, Any]] = {}
    csv_models: list[dict[str, Any]] = []
    for path in walk_files(paths, (".json", ".csv")):
        parsed.files += 1
        try:
            if path.endswith(".csv"):
                header, rows = csv_rows(path)
                if "Eval Task" in header and "Task Category" in header:
                    parsed.notes.append(f"{path}: DCLM task metadata (no results), skipped")
                    continue
                if "Dataset" not in header or "params" not in header:
                    raise InputError(
                        "unknown shape: no Dataset/params columns",
                        file=path,
                        fix="expected DCLM_model_database.csv (Model JSON, Dataset, model, "
                        "params, tokens, per-task columns) or a DCLM eval JSON",
                    )
                for line, row in rows:
                    try:
                        csv_models.append(_dclm_model_from_csv(path, line, row))
                    except InputError as exc:
                        bad_file(parsed, exc, skip_bad)
            else:
                data = _load_json(path)
                if not isinstance(data, dict) or not isinstance(data.get("eval_metrics"), dict):
                    raise InputError(
                        "unknown shape: no 'eval_metrics' object",
                        file=path,
                        fix="expected a DCLM eval JSON (model, eval_metrics.icl {task: value})",
                    )
                rec = _dclm_model_from_json(path, data)
                by_key[rec["key"]] = rec
        except InputError as exc:
            bad_file(parsed, exc, skip_bad)
    models = []
    for m in csv_models:
        js = by_key.pop(m["key"], None) if m["key"] else None
        if js is not None:
            m = {**m, "values": js["values"], "source": js["source"]}
        models.append(m)
    models.extend(by_key.values())
    _runs_for(models)
    for m in models:
        attrs: dict[str, Any] = {"dataset": m["dataset"], "model": m["model"] or None}
        if m.get("tokenizer"):
            attrs["tokenizer"] = m["tokenizer"]
        if m["key"]:
            attrs["model_json"] = m["key"]
        attrs.update(_hyper_attrs(m["stem"]))
        base = {
            "run": m["run"],
            "size": size_label(m["params"]),
            "params": m["params"],
            "tokens": m["tokens"],
            "step": None,
            "stage": stage,
            "attrs": attrs,
            "source": m["source"],
        }
        for bench, metric, value in m["values"]:
            try:
                parsed.add({**base, "benchmark": bench}, metric, value, m["source"])
            except (ValueError, TypeError) as exc:
                bad_file(
                    parsed,
                    InputError(
                        f"{bench}: {value!r} is not a number", file=m["source"], fix="give a number"
                    ),
                    skip_bad,
                )
                del exc


def _load_json(path: str) -> Any:
    """The whole file, by the importers' shared JSON reader (engine.ingest.json_records)."""
    return load_json_document(PathSource(Path(path)))
