"""Regenerate the derived sample files from docs.jsonl, bench_mc.jsonl and HUMANEVAL below.

Writes docs.jsonl.gz, docs.jsonl.zst, docs.parquet, docs.csv, docs_arrow/ (an HF save_to_disk
directory: one Arrow IPC *stream* plus state.json and dataset_info.json),
bench_olmes_requests.jsonl.gz and bench_humaneval.jsonl.gz. All text in sample_data/ was
written for this project. The output is byte-for-byte deterministic (gzip mtime 0, fixed
compression levels) for a given pyarrow/zstandard version.

    python sample_data/make_samples.py
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
ARROW_SHARD = "data-00000-of-00001.arrow"


def main() -> None:
    raw = (HERE / "docs.jsonl").read_bytes()
    docs = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    write_compressed_copies(raw)
    write_parquet(docs, HERE / "docs.parquet")
    write_csv(docs, HERE / "docs.csv")
    write_arrow_dir(docs, HERE / "docs_arrow")
    write_gz(HERE / "bench_olmes_requests.jsonl.gz", olmes_requests(HERE / "bench_mc.jsonl"))
    write_gz(HERE / "bench_humaneval.jsonl.gz", HUMANEVAL)


def write_compressed_copies(raw: bytes) -> None:
    import zstandard

    (HERE / "docs.jsonl.gz").write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    (HERE / "docs.jsonl.zst").write_bytes(zstandard.ZstdCompressor(level=10).compress(raw))


def write_parquet(docs: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(docs), path, compression="zstd")


def write_csv(docs: list[dict], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(docs[0]))
        writer.writeheader()
        writer.writerows(docs)


def write_arrow_dir(docs: list[dict], directory: Path) -> None:
    """What `datasets.Dataset.save_to_disk` writes for a one-shard split."""
    import pyarrow as pa

    directory.mkdir(exist_ok=True)
    table = pa.Table.from_pylist(docs)
    with pa.OSFile(str(directory / ARROW_SHARD), "wb") as sink:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    state = {
        "_data_files": [{"filename": ARROW_SHARD}],
        "_fingerprint": "0000000000000000",
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": "train",
    }
    info = {
        "description": "betr-tui sample documents",
        "features": {name: {"dtype": "string", "_type": "Value"} for name in docs[0]},
    }
    (directory / "state.json").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    (directory / "dataset_info.json").write_text(
        json.dumps(info, indent=2) + "\n", encoding="utf-8"
    )


def olmes_requests(mc_file: Path) -> list[dict]:
    """An oe-eval "rc" request file: one request per choice, and every doc listed twice (the
    second block, doc_id + 1 000 000, scores the choices without the question), as OLMES does."""
    docs = [json.loads(line) for line in mc_file.read_text(encoding="utf-8").splitlines()]
    requests: list[dict] = []
    for block, context in ((0, None), (1_000_000, "Answer:")):
        for doc_id, doc in enumerate(docs):
            for choice in doc["choices"]:
                requests.append(
                    {
                        "request_type": "loglikelihood",
                        "doc": doc,
                        "request": {
                            "context": context or doc["query"],
                            "continuation": f" {choice}",
                        },
                        "idx": len(requests),
                        "task_name": "sample_mc",
                        "doc_id": block + doc_id,
                        "native_id": doc["id"],
                        "label": doc["gold"],
                    }
                )
    return requests


def write_gz(path: Path, records: list[dict]) -> None:
    payload = "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")
    path.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))


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
