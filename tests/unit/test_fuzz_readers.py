"""Random bytes and random JSON into every reader: only BetrErrors may come out, never a
KeyError, a pyarrow, zstd, gzip or csv exception, or any other type."""

from __future__ import annotations

import csv
import gzip
import io
import json
import string
from dataclasses import dataclass

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import BetrError
from engine.ingest.benchmarks import FORMATS, parse_field_map, read_benchmark
from engine.ingest.readers import extract_doc, iter_records
from engine.ingest.sources import PathSource

NAMES = (
    "fuzz.jsonl",
    "fuzz.json.gz",
    "fuzz.ndjson.zst",
    "fuzz.csv",
    "fuzz.csv.gz",
    "fuzz.csv.zst",
    "fuzz.parquet",
    "fuzz.arrow",
)
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BENCH_FIELDS = [
    "text",
    "id",
    "idx",
    "index",
    "task_id",
    "query",
    "choices",
    "gold",
    "question",
    "answer",
    "problem",
    "solution",
    "prompt",
    "canonical_solution",
    "request_type",
    "doc",
    "label",
    "goal",
    "sol1",
    "sol2",
    "ctx",
    "endings",
    "activity_label",
    "correct_answer",
    "distractor1",
    "distractor2",
    "distractor3",
    "question_stem",
    "answerKey",
    "passage",
    "native_id",
]
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["A", "B", "####", "1 #### 1", "Question: q?\n A. x\n B. y\nAnswer:"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(BENCH_FIELDS) | st.text(string.ascii_letters, max_size=4),
            inner,
            max_size=6,
        )
    ),
    max_leaves=15,
)
# records shaped like benchmark items, so the converters see plausible field sets
bench_records = st.dictionaries(st.sampled_from(BENCH_FIELDS), json_values, max_size=8)
olmes_requests = st.builds(
    lambda doc, rid: {"request_type": "loglikelihood", "doc": doc, "doc_id": rid},
    bench_records,
    st.integers(0, 3),
)
FIELD_MAPS = [
    None,
    parse_field_map("question=question,answer=answer"),
    parse_field_map("id=id,question=query,choices=choices,gold=gold"),
]


@dataclass(frozen=True)
class BytesSource:
    """A Source over bytes in memory (like a zip member: no path to memory-map)."""

    name: str
    data: bytes

    def open(self) -> io.BytesIO:
        return io.BytesIO(self.data)

    @property
    def size(self) -> int:
        return len(self.data)


def compress(name: str, payload: bytes) -> bytes:
    if name.endswith(".gz"):
        return gzip.compress(payload, mtime=0)
    if name.endswith(".zst"):
        return zstandard.ZstdCompressor().compress(payload)
    return payload


def consume_docs(source) -> None:
    """Read like `betr import docs` does, with and without --skip-bad."""
    try:
        for rec in iter_records(source):
            extract_doc(rec, meta_fields=("id", "x.y"))
            extract_doc(rec, text_field="doc.text", id_field="id")
    except BetrError:
        pass
    try:
        for rec in iter_records(source, skip_bad=True, on_skip=lambda e: None):
            try:
                extract_doc(rec)
            except BetrError:
                pass
    except BetrError:
        pass


def consume_bench(source, formats=FORMATS) -> None:
    """Read like `betr import bench` does: every --format (and field maps), --skip-bad on so
    that every record reaches its converter; once without it for the raising path."""
    runs = [("auto", None, False)]
    for fmt in formats:
        maps = FIELD_MAPS[1:] if fmt == "field-map" else FIELD_MAPS if fmt == "auto" else [None]
        runs.extend((fmt, field_map, True) for field_map in maps)
    for fmt, field_map, skip_bad in runs:
        try:
            read_benchmark([source], fmt, field_map=field_map, skip_bad=skip_bad)
        except BetrError:
            pass


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes(name, data):
    source = BytesSource(name, data)
    consume_docs(source)
    consume_bench(source, ("auto",))


@pytest.mark.parametrize("name", [n for n in NAMES if n.endswith((".gz", ".zst"))])
@FUZZ
@given(payload=st.binary(max_size=300), cut=st.integers(0, 40))
def test_valid_compression_of_random_bytes_and_truncated_streams(name, payload, cut):
    compressed = compress(name, payload)
    source = BytesSource(name, compressed[: max(len(compressed) - cut, 0)])
    consume_docs(source)


@pytest.mark.parametrize("name", ["fuzz.jsonl", "fuzz.jsonl.gz", "fuzz.jsonl.zst"])
@FUZZ
@given(values=st.lists(json_values, min_size=1, max_size=6))
def test_random_json_lines(name, values):
    payload = "".join(json.dumps(v) + "\n" for v in values).encode()
    source = BytesSource(name, compress(name, payload))
    consume_docs(source)
    consume_bench(source)


@FUZZ
@given(
    records=st.lists(bench_records | olmes_requests, min_size=1, max_size=6),
    raw_lines=st.lists(st.binary(max_size=20), max_size=2),
)
def test_benchmark_shaped_records_with_noise(records, raw_lines):
    payload = b"".join(json.dumps(r).encode() + b"\n" for r in records) + b"\n".join(raw_lines)
    source = BytesSource("bench.jsonl", payload)
    consume_bench(source)
    consume_docs(source)


@FUZZ
@given(
    rows=st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=4), min_size=1, max_size=6),
    header=st.lists(st.sampled_from(BENCH_FIELDS), min_size=1, max_size=4),
)
def test_random_csv(rows, header):
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([header, *rows])
    source = BytesSource("fuzz.csv", buffer.getvalue().encode("utf-8"))
    consume_docs(source)
    consume_bench(source)


# one Arrow type per column, so that most draws make a table
column_values = st.sampled_from(
    [
        st.none(),
        st.booleans(),
        st.integers(-3, 5),
        st.text(max_size=10),
        st.sampled_from(["A", "B", "1 #### 1", "0"]),
        st.lists(st.text(max_size=6), max_size=4),
        st.fixed_dictionaries(
            {
                "text": st.lists(st.text(max_size=5), max_size=3),
                "label": st.lists(st.text(max_size=2), max_size=3),
            }
        ),
    ]
)


@st.composite
def tables(draw) -> list[dict]:
    columns = draw(st.dictionaries(st.sampled_from(BENCH_FIELDS), column_values, max_size=6))
    n_rows = draw(st.integers(1, 4))
    return [{name: draw(values) for name, values in columns.items()} for _ in range(n_rows)]


@FUZZ
@given(records=tables())
def test_random_parquet_and_arrow_tables(tmp_path, records):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pa.Table.from_pylist(records)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return  # not representable as one Arrow table: nothing to feed
    parquet, stream = io.BytesIO(), io.BytesIO()
    pq.write_table(table, parquet)
    with pa.ipc.new_stream(stream, table.schema) as writer:
        writer.write_table(table)
    for name, data in (("fuzz.parquet", parquet.getvalue()), ("fuzz.arrow", stream.getvalue())):
        path = tmp_path / name  # a PathSource is memory-mapped: the other code path
        path.write_bytes(data)
        consume_docs(PathSource(path))
        consume_bench(BytesSource(name, data))
