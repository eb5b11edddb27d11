"""Regenerate the binary sample files (gz, zst, parquet, csv, arrow dir) from docs.jsonl.

All text in sample_data/ was written for this project. Output is deterministic (gzip mtime 0).

    python sample_data/make_samples.py
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard

    raw = (HERE / "docs.jsonl").read_bytes()
    records = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
    with (
        open(HERE / "docs.jsonl.gz", "wb") as fh,
        gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz,
    ):
        gz.write(raw)
    (HERE / "docs.jsonl.zst").write_bytes(zstandard.ZstdCompressor(level=10).compress(raw))
    table = pa.Table.from_pylist(records)
    pq.write_table(table, HERE / "docs.parquet", compression="zstd")
    with open(HERE / "docs.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    arrow_dir = HERE / "docs_arrow"
    arrow_dir.mkdir(exist_ok=True)
    with pa.OSFile(str(arrow_dir / "data-00000-of-00001.arrow"), "wb") as sink:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    (arrow_dir / "state.json").write_text(
        json.dumps(
            {"_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_split": "train"},
            indent=2,
        )
        + "\n"
    )
    (arrow_dir / "dataset_info.json").write_text(
        json.dumps(
            {
                "description": "betr-tui sample documents",
                "features": {name: {"dtype": "string", "_type": "Value"} for name in records[0]},
            },
            indent=2,
        )
        + "\n"
    )
    requests = []
    for line in (HERE / "bench_mc.jsonl").read_text().splitlines():
        doc = json.loads(line)
        for i, choice in enumerate(doc["choices"]):
            requests.append(
                {
                    "request_type": "loglikelihood",
                    "doc": doc,
                    "request": {"context": doc["query"], "continuation": " " + choice},
                    "idx": i,
                    "task_name": "sample_mc",
                    "doc_id": doc["id"],
                    "label": doc["gold"],
                }
            )
    payload = "".join(json.dumps(r) + "\n" for r in requests).encode()
    with (
        open(HERE / "bench_olmes_requests.jsonl.gz", "wb") as fh,
        gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz,
    ):
        gz.write(payload)
    code = "".join(json.dumps(r) + "\n" for r in HUMANEVAL).encode()
    with (
        open(HERE / "bench_humaneval.jsonl.gz", "wb") as fh,
        gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz,
    ):
        gz.write(code)


HUMANEVAL = [
    {
        "task_id": "Sample/0",
        "prompt": 'def count_vowels(word: str) -> int:\n    """Return how many vowels (a, e, i, o, u) are in word.\n    >>> count_vowels("harbor")\n    2\n    """\n',
        "canonical_solution": '    return sum(1 for ch in word.lower() if ch in "aeiou")\n',
        "test": 'def check(f):\n    assert f("harbor") == 2\n',
        "entry_point": "count_vowels",
    },
    {
        "task_id": "Sample/1",
        "prompt": 'def running_total(values: list[int]) -> list[int]:\n    """Cumulative sums of values.\n    >>> running_total([1, 2, 3])\n    [1, 3, 6]\n    """\n',
        "canonical_solution": "    out, total = [], 0\n    for v in values:\n        total += v\n        out.append(total)\n    return out\n",
        "test": "def check(f):\n    assert f([1, 2, 3]) == [1, 3, 6]\n",
        "entry_point": "running_total",
    },
]

if __name__ == "__main__":
    main()
