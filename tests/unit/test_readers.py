"""Document readers: every import format gives the same records; bad input fails clearly."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from engine.errors import InputError, UsageError
from engine.ingest.readers import (
    Record,
    detect_format,
    expand_sources,
    extract_doc,
    iter_records,
)
from engine.ingest.sources import PathSource

SKIP_FIX = "fix or delete that line, or pass --skip-bad to skip bad records"
DOC_IDS = [f"web-{i:03d}" for i in range(1, 9)]
FIRST_DOC = {
    "id": "web-001",
    "source": "sample-web",
    "url": "https://example.org/tides",
    "text": "Tides rise and fall twice a day because the Moon's gravity pulls on the oceans. "
    "The side of the Earth facing the Moon bulges outward, and so does the opposite side, "
    "which is why most coasts see two high tides.",
}


def read(path: Path, **kwargs) -> list[Record]:
    return [rec for src in expand_sources([path]) for rec in iter_records(src, **kwargs)]


def read_error(path: Path, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        read(path, **kwargs)
    return info.value


def write_jsonl(path: Path, *records: dict) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


# -- every sample format ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "first_line", "unit"),
    [
        ("docs.jsonl", 1, "line"),
        ("docs.jsonl.gz", 1, "line"),
        ("docs.jsonl.zst", 1, "line"),
        ("docs.csv", 2, "line"),  # line 1 is the header
        ("docs.parquet", 1, "row"),
        ("docs_arrow", 1, "row"),
    ],
)
def test_every_sample_format_gives_the_same_eight_documents(sample_data, name, first_line, unit):
    records = read(sample_data / name)
    expected = [json.loads(line) for line in (sample_data / "docs.jsonl").read_text().splitlines()]
    assert [r.data for r in records] == expected
    assert [r.data["id"] for r in records] == DOC_IDS
    assert records[0].data == FIRST_DOC
    assert [r.line for r in records] == list(range(first_line, first_line + 8))
    assert {r.unit for r in records} == {unit}


def test_an_hf_arrow_dir_expands_to_its_shard_named_in_state_json(sample_data):
    (source,) = expand_sources([sample_data / "docs_arrow"])
    assert source == PathSource(sample_data / "docs_arrow" / "data-00000-of-00001.arrow")
    assert detect_format(sample_data / "docs_arrow") == "arrow"


def test_extract_doc_on_a_sample_record(sample_data):
    first = read(sample_data / "docs.jsonl")[0]
    assert extract_doc(first, meta_fields=("url", "source", "lang")) == (
        "web-001",
        FIRST_DOC["text"],
        {"url": "https://example.org/tides", "source": "sample-web", "lang": None},
    )
    assert extract_doc(first) == ("web-001", FIRST_DOC["text"], None)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.jsonl", "jsonl"),
        ("a.json", "jsonl"),
        ("A.NDJSON", "jsonl"),
        ("a.jsonl.gz", "jsonl"),
        ("a.json.zst", "jsonl"),
        ("c4-sample.01.json.gz", "jsonl"),
        ("a.csv", "csv"),
        ("a.csv.gz", "csv"),
        ("a.csv.zst", "csv"),
        ("a.parquet", "parquet"),
        ("data-00000-of-00001.arrow", "arrow"),
        ("wheel.whl!x/requests.jsonl.gz", "jsonl"),
    ],
)
def test_detect_format_from_the_name(name, fmt):
    assert detect_format(name) == fmt


@pytest.mark.parametrize("name", ["docs.xml", "docs.parquet.gz", "docs.txt", "docs"])
def test_an_unknown_file_type_is_a_usage_error_listing_the_formats(name):
    with pytest.raises(UsageError) as info:
        detect_format(name)
    assert info.value.message == f"{name}: unknown file type (cannot tell the format from the name)"
    assert info.value.fix == (
        "supported: .jsonl, .json, .ndjson or .csv (each optionally compressed: .gz, .zst), "
        ".parquet, .arrow, or a directory written by Hugging Face datasets' save_to_disk"
    )


def test_expand_sources_checks_the_type_before_reading(tmp_path):
    (tmp_path / "docs.xml").write_text("<doc/>")
    with pytest.raises(UsageError, match=r"docs\.xml: unknown file type"):
        expand_sources([tmp_path / "docs.xml"])


# -- files the tests write ----------------------------------------------------------------------
def test_jsonl_skips_blank_lines_and_counts_physical_lines(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_bytes(b'\xef\xbb\xbf{"text": "one"}\r\n\n   \n{"text": "two", "n": 2}\n{"text": "3"}')
    assert read(p) == [
        Record(str(p), 1, "line", {"text": "one"}),
        Record(str(p), 4, "line", {"text": "two", "n": 2}),
        Record(str(p), 5, "line", {"text": "3"}),
    ]


def test_multi_frame_zstd_reads_every_frame(tmp_path):
    p = tmp_path / "d.jsonl.zst"
    cctx = zstandard.ZstdCompressor()
    p.write_bytes(cctx.compress(b'{"text": "a"}\n') + cctx.compress(b'{"text": "b"}\n'))
    assert [(r.line, r.data) for r in read(p)] == [(1, {"text": "a"}), (2, {"text": "b"})]


def test_csv_quoted_newlines_and_the_line_a_record_starts_on(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text('id,text\na,"first line\nsecond line"\n\nb,"x, y"\n', encoding="utf-8")
    assert read(p) == [
        Record(str(p), 2, "line", {"id": "a", "text": "first line\nsecond line"}),
        Record(str(p), 5, "line", {"id": "b", "text": "x, y"}),
    ]


def test_gzipped_csv(tmp_path):
    p = tmp_path / "d.csv.gz"
    p.write_bytes(gzip.compress(b"id,text\nz,zipped\n", mtime=0))
    assert read(p) == [Record(str(p), 2, "line", {"id": "z", "text": "zipped"})]


def test_parquet_row_numbers_run_across_row_groups(tmp_path):
    p = tmp_path / "d.parquet"
    table = pa.Table.from_pylist([{"id": i, "text": f"t{i}"} for i in range(5)])
    pq.write_table(table, p, row_group_size=2)
    records = read(p)
    assert [(r.line, r.unit, r.data) for r in records] == [
        (i + 1, "row", {"id": i, "text": f"t{i}"}) for i in range(5)
    ]
    assert extract_doc(records[3]) == ("3", "t3", None)


def test_arrow_ipc_file_format_is_read_too(tmp_path):
    p = tmp_path / "d.arrow"
    table = pa.Table.from_pylist([{"text": "alpha", "meta": {"url": "u1"}}, {"text": "beta"}])
    with pa.OSFile(str(p), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    assert [r.data for r in read(p)] == [
        {"text": "alpha", "meta": {"url": "u1"}},
        {"text": "beta", "meta": None},
    ]


def write_arrow_stream(path: Path, rows: list[dict]) -> None:
    table = pa.Table.from_pylist(rows)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


def test_a_sharded_arrow_dir_reads_its_shards_in_order(tmp_path):
    d = tmp_path / "ds"
    d.mkdir()
    for i in (1, 0, 2):
        write_arrow_stream(d / f"data-0000{i}-of-00003.arrow", [{"text": f"shard {i}"}])
    (d / "dataset_info.json").write_text("{}")
    sources = expand_sources([d])
    assert [Path(s.name).name for s in sources] == [
        "data-00000-of-00003.arrow",
        "data-00001-of-00003.arrow",
        "data-00002-of-00003.arrow",
    ]
    assert [r.data["text"] for s in sources for r in iter_records(s)] == [
        "shard 0",
        "shard 1",
        "shard 2",
    ]


def test_a_dataset_dict_dir_asks_for_one_split(tmp_path):
    d = tmp_path / "dd"
    (d / "test").mkdir(parents=True)
    (d / "train").mkdir()
    (d / "dataset_dict.json").write_text('{"splits": ["test", "train"]}')
    with pytest.raises(InputError) as info:
        expand_sources([d])
    assert info.value.message == f"{d}: is a dataset with several splits (test, train)"
    assert info.value.fix == f"pass one split's directory, e.g. {d / 'test'}"


def test_a_plain_directory_is_not_an_arrow_dir(tmp_path):
    with pytest.raises(InputError) as info:
        expand_sources([tmp_path])
    assert info.value.message == (
        f"{tmp_path}: is a directory but not a Hugging Face datasets directory "
        "(it has no *.arrow files)"
    )


# -- bad input: each error names file, line and field -------------------------------------------
def test_malformed_json_names_file_line_and_column(tmp_path):
    p = tmp_path / "malformed.jsonl"
    p.write_text('{"id": "a", "text": "fine"}\n{"id": "b", "text": "oops"\n')
    err = read_error(p)
    assert (err.file, err.line) == (str(p), 2)
    assert err.message == f"{p}:2: malformed JSON: Expecting ',' delimiter (column 27)"
    assert err.fix == SKIP_FIX


def test_a_json_value_that_is_not_an_object(tmp_path):
    p = tmp_path / "list.jsonl"
    p.write_text('{"text": "fine"}\n[1, 2]\n')
    assert read_error(p).message == f"{p}:2: expected a JSON object, got a list"


def test_missing_text_field_lists_the_fields_there_are(tmp_path):
    p = write_jsonl(tmp_path / "notext.jsonl", {"id": "a", "text": "ok"}, {"id": "b", "body": "x"})
    records = read(p)
    with pytest.raises(InputError) as info:
        extract_doc(records[1])
    err = info.value
    assert (err.file, err.line, err.field) == (str(p), 2, "text")
    assert err.message == f"{p}:2: field 'text': missing; this record has the fields: body, id"
    assert err.fix == "name the text field with --text-field NAME, or pass --skip-bad"
    assert extract_doc(records[1], text_field="body") == ("b", "x", None)


def test_an_empty_file(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_text("")
    err = read_error(p)
    assert err.message == f"{p}: file is empty (no records)"
    # blank lines only, and a header-only CSV, are empty too; skip_bad does not hide it
    p.write_text("\n  \n")
    assert read_error(p, skip_bad=True).message == f"{p}: file is empty (no records)"
    c = tmp_path / "header.csv"
    c.write_text("id,text\n")
    assert read_error(c).message == f"{c}: file is empty (no records)"


def test_a_binary_file(tmp_path):
    p = tmp_path / "binary.jsonl"
    p.write_bytes(b"\x00\x01\x02\xff\xfe" * 100)
    err = read_error(p)
    assert err.message == (
        f"{p}:1: looks like a binary file, not JSON Lines text (NUL byte at byte 1)"
    )
    assert err.fix == "check the file type; compressed files need a .gz or .zst name"


def test_a_gzip_file_without_gz_in_its_name(tmp_path):
    p = tmp_path / "docs.jsonl"
    p.write_bytes(gzip.compress(b'{"text": "x"}\n'))
    err = read_error(p, skip_bad=True)
    assert err.message == f"{p}: is gzip-compressed, but its name does not say so"
    assert err.fix == "rename it so that it ends in .gz (e.g. docs.jsonl.gz)"


def test_invalid_utf8_names_line_and_byte(tmp_path):
    p = tmp_path / "latin1.jsonl"
    p.write_bytes(b'{"text": "fine"}\n' + '{"text": "caf\xe9"}'.encode("latin-1") + b"\n")
    err = read_error(p)
    assert (err.line, err.message) == (2, f"{p}:2: invalid UTF-8 at byte 14")
    assert "iconv" in err.fix


def test_invalid_utf8_in_csv_names_line_and_column(tmp_path):
    p = tmp_path / "latin1.csv"
    p.write_bytes(b"id,text\na,fine\nb," + "caf\xe9".encode("latin-1") + b"\n")
    err = read_error(p)
    assert err.message == f"{p}:3: invalid UTF-8 in column 'text' (character 4)"


def test_a_ragged_csv_row(tmp_path):
    p = tmp_path / "ragged.csv"
    p.write_text('id,text\na,"one\ntwo"\nb,x,y\nc,z\n')
    err = read_error(p)
    assert err.message == f"{p}:4: has 3 fields but the header has 2"
    assert [r.line for r in read(p, skip_bad=True)] == [2, 5]


def test_a_csv_header_with_repeated_names(tmp_path):
    p = tmp_path / "dup.csv"
    p.write_text("text,id,text\nx,1,y\n")
    assert read_error(p).message == f"{p}:1: the header row repeats column names: text"


@pytest.fixture(scope="module")
def huge_line_file(tmp_path_factory) -> Path:
    """A 50 MiB first line, then one ordinary record."""
    p = tmp_path_factory.mktemp("huge") / "huge.jsonl"
    with open(p, "wb") as fh:
        fh.write(b'{"text": "' + b"a" * (50 * 2**20) + b'"}\n')
        fh.write(b'{"text": "small"}\n')
    return p


def test_a_50_mb_line_is_refused_by_its_length(huge_line_file):
    err = read_error(huge_line_file)
    assert (err.file, err.line) == (str(huge_line_file), 1)
    assert err.message == (
        f"{huge_line_file}:1: line 1 is longer than 32 MiB (50.0 MiB), the limit for one record"
    )


def test_skip_bad_steps_over_the_long_line(huge_line_file):
    skipped: list[InputError] = []
    records = read(huge_line_file, skip_bad=True, on_skip=skipped.append)
    assert [(r.line, r.data) for r in records] == [(2, {"text": "small"})]
    assert [e.line for e in skipped] == [1]


def test_the_record_limit_is_a_parameter(tmp_path):
    p = write_jsonl(tmp_path / "d.jsonl", {"text": "x" * 200}, {"text": "short"})
    err = read_error(p, max_record_bytes=100)
    assert err.message == (
        f"{p}:1: line 1 is longer than 100 bytes (213 bytes), the limit for one record"
    )


def test_a_missing_file(tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(InputError) as info:
        expand_sources([missing])
    assert info.value.message == f"{missing}: no such file or directory"
    assert info.value.fix == "check the path (relative paths start from the current directory)"
    with pytest.raises(InputError) as info:
        list(iter_records(PathSource(missing)))
    assert info.value.message == f"{missing}: no such file"
    for suffix in (".parquet", ".arrow"):
        with pytest.raises(InputError, match="no such file"):
            list(iter_records(PathSource(tmp_path / f"nope{suffix}")))


def test_a_truncated_gzip_file(tmp_path):
    p = tmp_path / "cut.jsonl.gz"
    data = "".join(json.dumps({"id": i, "text": f"doc {i}"}) + "\n" for i in range(3000))
    p.write_bytes(gzip.compress(data.encode(), mtime=0)[:-40])
    seen: list[int] = []
    with pytest.raises(InputError) as info:
        for rec in iter_records(PathSource(p), skip_bad=True):  # a file error: never skipped
            seen.append(rec.line)
    assert info.value.message.startswith(
        f"{p}: the compressed data is truncated or corrupt (after line {len(seen)}): "
        "Compressed file ended before the end-of-stream marker was reached"
    )
    assert seen == list(range(1, len(seen) + 1)) and len(seen) > 2900


def test_a_truncated_zstd_file(tmp_path):
    p = tmp_path / "cut.jsonl.zst"
    p.write_bytes(zstandard.ZstdCompressor().compress(b'{"text": "x"}\n' * 100)[:-5])
    assert read_error(p).message == (
        f"{p}: the compressed data is truncated or corrupt (at the start): "
        "zstd data ends in the middle of a frame"
    )


def test_a_file_that_is_not_gzip_at_all(tmp_path):
    p = tmp_path / "plain.jsonl.gz"
    p.write_text('{"text": "x"}\n')
    assert read_error(p).message.startswith(
        f"{p}: the compressed data is truncated or corrupt (at the start): Not a gzipped file"
    )


@pytest.mark.parametrize(("name", "what"), [("bad.parquet", "Parquet"), ("bad.arrow", "Arrow")])
def test_a_corrupt_binary_file_raises_even_with_skip_bad(tmp_path, name, what):
    p = tmp_path / name
    p.write_bytes(b"PAR1 this is not really a columnar file")
    err = read_error(p, skip_bad=True)
    assert err.message.startswith(f"{p}: not a readable {what} file: ")
    assert (
        err.fix == f"check that the file is complete and really {what} (re-create it if truncated)"
    )


def test_skip_bad_reports_what_it_skipped_and_yields_the_rest(tmp_path):
    p = tmp_path / "mixed.jsonl"
    p.write_bytes(b'{"text": "one"}\n{"text": \n[1]\n{"text": "caf\xe9"}\n{"text": "five"}\n')
    skipped: list[InputError] = []
    records = read(p, skip_bad=True, on_skip=skipped.append)
    assert [(r.line, r.data["text"]) for r in records] == [(1, "one"), (5, "five")]
    assert [e.message for e in skipped] == [
        f"{p}:2: malformed JSON: Expecting value (column 10)",
        f"{p}:3: expected a JSON object, got a list",
        f"{p}:4: invalid UTF-8 at byte 14",
    ]


def test_only_bad_records_is_an_error_even_with_skip_bad(tmp_path):
    p = tmp_path / "allbad.jsonl"
    p.write_text("nope\n[]\n")
    assert (
        read_error(p, skip_bad=True).message == f"{p}: no readable records (2 bad records skipped)"
    )


# -- extract_doc ------------------------------------------------------------------------------
def rec(data: dict, line: int = 7, unit: str = "line") -> Record:
    return Record("/data/docs.jsonl", line, unit, data)


def test_without_an_id_the_doc_is_named_by_file_and_line():
    assert extract_doc(rec({"text": "hello"})) == ("docs.jsonl:7", "hello", None)
    assert extract_doc(rec({"text": "hello", "id": 42})) == ("42", "hello", None)
    assert extract_doc(rec({"text": "hello", "id": None})) == ("docs.jsonl:7", "hello", None)


def test_an_explicit_id_field_must_be_there():
    assert extract_doc(rec({"text": "t", "doc": {"key": "k1"}}), id_field="doc.key")[0] == "k1"
    with pytest.raises(InputError) as info:
        extract_doc(rec({"text": "t", "id": "x"}), id_field="uid")
    err = info.value
    assert (err.field, err.line) == ("uid", 7)
    assert err.message == (
        "/data/docs.jsonl:7: field 'uid': missing (the id field given with --id-field)"
    )


def test_dotted_field_paths_reach_into_objects():
    r = rec({"body": {"text": "nested"}, "meta": {"url": "u", "lang": "en"}, "a.b": 1})
    assert extract_doc(r, text_field="body.text", meta_fields=("meta.url", "a.b", "meta.x")) == (
        "docs.jsonl:7",
        "nested",
        {"meta.url": "u", "a.b": 1, "meta.x": None},
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"text": 5}, "field 'text': must be a string, got a number"),
        ({"text": ["a"]}, "field 'text': must be a string, got a list"),
        ({"text": None}, "field 'text': must be a string, got null"),
        ({"text": "  \n"}, "field 'text': is empty (or only whitespace)"),
        (
            {"text": "ok", "id": [1]},
            "field 'id': the id must be a string or an integer, got a list",
        ),
        ({"text": "ok", "id": ""}, "field 'id': the id is empty"),
        (
            {"text": "bad \ud800 text"},
            "field 'text' holds an unpaired surrogate escape (\\ud800), which is not valid Unicode text",
        ),
    ],
)
def test_bad_text_and_id_values(data, message):
    with pytest.raises(InputError) as info:
        extract_doc(rec(data, line=3, unit="row"))
    assert info.value.message == f"/data/docs.jsonl row 3: {message}"
    assert "--skip-bad" in info.value.fix


def test_a_binary_text_column_is_called_binary(tmp_path):
    p = tmp_path / "bin.parquet"
    pq.write_table(pa.table({"text": [b"\x00\x01"]}), p)
    rec = next(iter(iter_records(PathSource(p))))
    with pytest.raises(InputError) as info:
        extract_doc(rec, "text", None, ())
    assert (
        info.value.message == f"{p} row 1: field 'text': must be a string, got binary data (bytes)"
    )


def test_a_truncated_file_says_nothing_was_imported(tmp_path):
    p = tmp_path / "cut.jsonl.gz"
    p.write_bytes(gzip.compress(b'{"text": "x"}\n' * 1000, mtime=0)[:-40])
    err = read_error(p)
    assert err.fix == (
        "re-download or re-create the file; nothing was imported (a damaged file stops the "
        "import, even with --skip-bad)"
    )
