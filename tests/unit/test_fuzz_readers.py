"""Random bytes and random JSON into every reader: only clean BetrErrors may come out."""

from __future__ import annotations

import gzip
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import BetrError
from engine.ingest.benchmarks import FORMATS, read_benchmark
from engine.ingest.readers import extract_doc, iter_records
from engine.ingest.sources import PathSource

SUFFIXES = (
    ".jsonl",
    ".jsonl.gz",
    ".jsonl.zst",
    ".csv",
    ".csv.gz",
    ".parquet",
    ".arrow",
)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "text",
                    "id",
                    "query",
                    "choices",
                    "gold",
                    "question",
                    "answer",
                    "problem",
                    "solution",
                    "doc",
                    "request_type",
                    "label",
                    "x",
                ]
            )
            | st.text(string.ascii_letters, max_size=5),
            inner,
            max_size=6,
        )
    ),
    max_leaves=12,
)


def consume_docs(path) -> None:
    try:
        for rec in iter_records(PathSource(path), skip_bad=False):
            extract_doc(rec)
    except BetrError:
        pass
    try:
        list(iter_records(PathSource(path), skip_bad=True, on_skip=lambda e: None))
    except BetrError:
        pass


def consume_bench(path, fmt: str) -> None:
    field_map = {"question": "question", "answer": "answer"} if fmt == "field-map" else None
    for skip in (False, True):
        try:
            read_benchmark([PathSource(path)], fmt, field_map=field_map, skip_bad=skip)
        except BetrError:
            pass


@pytest.mark.parametrize("suffix", SUFFIXES)
@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_only_raise_betr_errors(tmp_path, suffix, data):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    consume_docs(path)
    consume_bench(path, "auto")


@pytest.mark.parametrize("compress", [False, True])
@FUZZ
@given(values=st.lists(json_values, min_size=1, max_size=6), fmt=st.sampled_from(FORMATS))
def test_random_json_lines_only_raise_betr_errors(tmp_path, compress, values, fmt):
    payload = "".join(json.dumps(v) + "\n" for v in values).encode()
    path = tmp_path / ("fuzz.jsonl.gz" if compress else "fuzz.jsonl")
    path.write_bytes(gzip.compress(payload) if compress else payload)
    consume_docs(path)
    consume_bench(path, fmt)


@FUZZ
@given(
    rows=st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=4), min_size=1, max_size=6)
)
def test_random_csv_only_raises_betr_errors(tmp_path, rows):
    import csv

    path = tmp_path / "fuzz.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    consume_docs(path)
    consume_bench(path, "auto")


@FUZZ
@given(
    records=st.lists(
        st.dictionaries(
            st.sampled_from(["text", "id", "query", "choices", "gold"]), json_values, max_size=5
        ),
        min_size=1,
        max_size=5,
    )
)
def test_random_parquet_and_arrow_only_raise_betr_errors(tmp_path, records):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pa.Table.from_pylist(records)
        pq.write_table(table, tmp_path / "fuzz.parquet")
        with pa.OSFile(str(tmp_path / "fuzz.arrow"), "wb") as sink:
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return  # not representable as a Parquet/Arrow table: nothing to feed
    for name in ("fuzz.parquet", "fuzz.arrow"):
        consume_docs(tmp_path / name)
        consume_bench(tmp_path / name, "auto")
