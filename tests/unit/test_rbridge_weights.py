"""rBridge letter probabilities and token weights (METHODS 2, steps 1, 2, 4, 5) on
hand-computed examples. The tokenizers are built here (tiny WordLevel vocabularies with
different pre-tokenizers), never downloaded."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest

from engine.errors import InputError, UsageError
from engine.rbridge.letters import (
    align_letter_probs,
    decode_reasoning,
    letter_probs_from_tokens,
    reasoning_letter_probs,
)
from engine.rbridge.tokenrows import pack_token_rows, unpack_token_rows
from engine.rbridge.weights import (
    ScoreConfig,
    bits_per_byte,
    mask_spans,
    minmax,
    proxy_token_weights,
    token_weights,
    trace_score,
    weight_range,
)

L = math.log


def word_level(pre_tokenizer, *, bos: bool = False):
    """A tokenizer whose splits come from its pre-tokenizer (every piece maps to [UNK]: only
    the offsets matter here). With bos=True, <s> is added in front with offsets (0, 0)."""
    from tokenizers import Tokenizer, models, processors

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "<s>": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizer
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", special_tokens=[("<s>", 1)]
        )
    return tok


@pytest.fixture(scope="module")
def words():
    from tokenizers import pre_tokenizers

    return word_level(pre_tokenizers.Whitespace(), bos=True)


@pytest.fixture(scope="module")
def pairs():
    """Pieces of two characters, crossing the word boundaries."""
    from tokenizers import Regex, pre_tokenizers

    return word_level(pre_tokenizers.Split(Regex(r"[\s\S]{1,2}"), behavior="isolated"))


def offsets(tok, text: str, *, special: bool = False) -> list[tuple[int, int]]:
    return tok.encode(text, add_special_tokens=special).offsets


# -- letter probabilities --------------------------------------------------------------------
FRONTIER = (["The", " cat", " sat", "."], [L(0.5), L(0.25), L(0.8), L(1.0)])
LETTERS = [0.5] * 3 + [0.25] * 4 + [0.8] * 4 + [1.0]  # "The cat sat."


def test_letter_probs_are_the_token_probability_of_each_character():
    text, p = letter_probs_from_tokens(*FRONTIER)
    assert text == "The cat sat."
    assert p == pytest.approx(LETTERS, abs=1e-15)


def test_two_tokenizers_get_weights_from_the_same_letter_probabilities(words, pairs):
    text, p = letter_probs_from_tokens(*FRONTIER)
    off_w = offsets(words, text)
    assert off_w == [(0, 3), (4, 7), (8, 11), (11, 12)]
    w, keep = token_weights(p, off_w)
    assert w == pytest.approx([0.5, 0.25, 0.8, 1.0])
    assert keep.all()
    off_p = offsets(pairs, text)  # "Th" "e " "ca" "t " "sa" "t."
    assert off_p == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10), (10, 12)]
    w, keep = token_weights(p, off_p)
    assert w == pytest.approx([0.5, (0.5 + 0.25) / 2, 0.25, (0.25 + 0.8) / 2, 0.8, 0.9])
    # MinMax per trace, by hand: min 0.25, max 0.9, u = (w - 0.25) / 0.65
    u, flat = minmax(w)
    assert not flat
    assert u == pytest.approx([0.25 / 0.65, 0.125 / 0.65, 0.0, 0.275 / 0.65, 0.55 / 0.65, 1.0])
    nll = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    expected = (0.25 + 2 * 0.125 + 0 + 4 * 0.275 + 5 * 0.55) / 0.65 + 6.0
    assert trace_score(nll, u) == pytest.approx(expected / 6)


def test_a_token_inside_one_frontier_token_gets_exactly_its_probability():
    p = np.full(7, math.exp(-0.1))
    w, _ = token_weights(p, [(0, 3), (3, 7), (0, 7)])
    assert (w == math.exp(-0.1)).all()  # exact, not a rounded mean
    u, flat = minmax(w)
    assert flat and (u == 1.0).all()


def test_bos_token_with_an_empty_span_is_excluded(words):
    text, p = letter_probs_from_tokens(*FRONTIER)
    off = offsets(words, text, special=True)
    assert off[0] == (0, 0)  # <s>
    tw = proxy_token_weights(p, off)
    assert np.isnan(tw.weight[0]) and np.isnan(tw.weight_minmax[0])
    assert tw.keep.tolist() == [False, True, True, True, True]
    assert tw.weight_minmax[1:] == pytest.approx([1 / 3, 0.0, 0.55 / 0.75, 1.0])
    # the BOS NLL does not count: a plain mean over the four kept tokens
    nll = np.array([100.0, 1.0, 2.0, 3.0, 4.0])
    assert trace_score(nll, tw.weight_minmax) == pytest.approx(
        (1 / 3 + 0 + 3 * 0.55 / 0.75 + 4) / 4
    )


def test_whitespace_only_tokens_get_the_mean_of_their_whitespace_letters():
    from tokenizers import Regex, pre_tokenizers

    tok = word_level(pre_tokenizers.Split(Regex(r"\s+|\S+"), behavior="isolated"))
    text, p = letter_probs_from_tokens(["a ", " b", "\n"], [L(0.2), L(0.6), L(1.0)])
    assert text == "a  b\n"
    off = offsets(tok, text)
    assert off == [(0, 1), (1, 3), (3, 4), (4, 5)]
    w, keep = token_weights(p, off)
    assert w == pytest.approx([0.2, 0.4, 0.6, 1.0])
    assert keep.all()
    # a tokenizer that trims offsets reports a whitespace token as empty: excluded
    w, keep = token_weights(p, [(0, 1), (2, 2), (3, 4)])
    assert keep.tolist() == [True, False, True] and np.isnan(w[1])


def test_json_escapes_take_the_mean_probability_of_their_characters(words, pairs):
    tokens = [
        '{"reasoning": "',
        "Line\\",
        'n2 \\"q\\" \\u00e9',
        " \\ud83d",
        "\\ude00",
        '", "final_answer": 42}',
    ]
    ps = [0.9, 0.5, 0.25, 0.8, 0.4, 0.7]
    text, p = letter_probs_from_tokens(tokens, [L(x) for x in ps])
    r, pr, final = reasoning_letter_probs(text, p)
    assert r == 'Line\n2 "q" é 😀'
    assert final == "42"
    expected = (
        [0.5] * 4  # Line
        + [(0.5 + 0.25) / 2]  # \n: its backslash in one token, its n in the next
        + [0.25] * 2  # "2 "
        + [0.25, 0.25, 0.25, 0.25]  # \" q \" and the space
        + [0.25]  # \u00e9 (six characters, one token)
        + [0.8]  # the space before the emoji
        + [(6 * 0.8 + 6 * 0.4) / 12]  # the surrogate pair: 12 characters over two tokens
    )
    assert pr == pytest.approx(expected)
    # the same decoded letters weight two tokenizers
    w, _ = token_weights(pr, offsets(words, r))  # Line 2 " q " é 😀
    assert w == pytest.approx([0.5, 0.25, 0.25, 0.25, 0.25, 0.25, 0.6])
    w, _ = token_weights(pr, offsets(pairs, r))
    # Li ne \n2 ' "' 'q"' ' é' ' 😀'
    assert w == pytest.approx([0.5, 0.5, (0.375 + 0.25) / 2, 0.25, 0.25, 0.25, (0.8 + 0.6) / 2])


def test_json_inside_a_code_fence_and_other_escapes():
    text = '```json\n{"final_answer": "x", "reasoning": "a\\\\b\\/c\\td"}\n```'
    probs = np.linspace(0.1, 0.9, len(text))
    r, pr, final = reasoning_letter_probs(text, probs)
    assert (r, final) == ("a\\b/c\td", "x")
    q = text.index('"a') + 1  # first letter of the value
    assert pr == pytest.approx(
        [
            probs[q],
            probs[q + 1 : q + 3].mean(),
            probs[q + 3],
            probs[q + 4 : q + 6].mean(),
            probs[q + 6],
            probs[q + 7 : q + 9].mean(),
            probs[q + 9],
        ]
    )
    assert decode_reasoning("plain text {not json}") == ("plain text {not json}", None)


def test_broken_json_answer_is_rejected_with_the_reason():
    with pytest.raises(InputError, match="does not parse"):
        decode_reasoning('{"reasoning": "cut sho', where="trace 't1'")
    with pytest.raises(InputError, match="lone surrogate"):
        decode_reasoning('{"reasoning": "\\ud83dx"}')


def test_non_ascii_bytes_split_across_tokens():
    """OpenAI reports a token that splits a UTF-8 character as its raw bytes."""
    tokens = ["caf", "\\xc3", "\\xa9", " \\xf0\\x9f", "\\x98\\x80"]
    raw = [list(b"caf"), [0xC3], [0xA9], [0x20, 0xF0, 0x9F], [0x98, 0x80]]
    text, p = letter_probs_from_tokens(
        tokens, [L(0.5), L(0.25), L(1.0), L(0.8), L(0.4)], token_bytes=raw
    )
    assert text == "café 😀"
    assert p == pytest.approx([0.5, 0.5, 0.5, (0.25 + 1.0) / 2, 0.8, (0.8 + 0.4) / 2])
    # `bytes` null: the token's own UTF-8
    text, p = letter_probs_from_tokens(["é", "x"], [L(0.5), 0.0], token_bytes=[None, None])
    assert (text, p.tolist()) == ("éx", [0.5, 1.0])
    with pytest.raises(InputError, match="token 1: the token bytes are not valid UTF-8"):
        letter_probs_from_tokens(["a", "?"], [0.0, 0.0], token_bytes=[[97], [0xC3]])


@pytest.mark.parametrize(
    ("value", "what"),
    [(float("nan"), "NaN"), (float("inf"), "infinite"), (0.5, "positive"), ("x", "not a number")],
)
def test_bad_logprob_names_the_token(value, what):
    with pytest.raises(InputError) as err:
        letter_probs_from_tokens(["a", "b", "c"], [-1.0, -2.0, value], where="t.jsonl:7")
    assert f"t.jsonl:7: token 2: logprob is {what}" in str(err.value)
    assert err.value.fix


def test_missing_and_truncated_logprobs():
    with pytest.raises(InputError, match="3 tokens but 2 log-probabilities"):
        letter_probs_from_tokens(["a", "b", "c"], [-1.0, -1.0])
    text, p = letter_probs_from_tokens(["The", " cat"], [L(0.5), L(0.25)])
    with pytest.raises(
        InputError,
        match="truncated log-probabilities: the tokens cover only the first 7 of 12 characters",
    ):
        align_letter_probs("The cat sat.", text, p, where="trace 't'")


def test_a_trace_that_does_not_align_is_rejected():
    text, p = letter_probs_from_tokens(*FRONTIER)
    with pytest.raises(InputError) as err:
        align_letter_probs("The cat sit.", text, p, where="trace 't9'")
    msg = str(err.value)
    assert "trace 't9': the reasoning does not match the tokens" in msg
    assert "first difference at character 9" in msg and "'The cat sit.'" in msg
    # aligned through the JSON answer the tokens spell
    toks = ['{"reasoning": "a\\', 'nb"}']
    text, p = letter_probs_from_tokens(toks, [L(0.5), L(0.25)])
    assert align_letter_probs("a\nb", text, p) == pytest.approx([0.5, 0.375, 0.25])


# -- MinMax, score, bits per byte --------------------------------------------------------------
def test_max_equals_min_gives_ones_and_a_flag():
    tw = proxy_token_weights(np.full(6, 0.7), [(0, 2), (2, 6), (6, 6)])
    assert tw.flags == ["flat-weights"]
    assert tw.weight_minmax[:2].tolist() == [1.0, 1.0] and np.isnan(tw.weight_minmax[2])
    assert trace_score(np.array([2.0, 4.0, 9.0]), tw.weight_minmax) == 3.0  # plain NLL
    u, flat = minmax(np.array([0.5, 0.5]), 0.5, 0.5)
    assert flat and u.tolist() == [1.0, 1.0]


def test_both_minmax_scopes():
    t1, t2 = np.array([0.2, 0.6]), np.array([0.4, 1.0])
    assert minmax(t1)[0].tolist() == [0.0, 1.0]
    assert minmax(t2)[0].tolist() == [0.0, 1.0]
    lo, hi = weight_range([t1, np.array([np.nan]), t2])
    assert (lo, hi) == (0.2, 1.0)
    assert minmax(t1, lo, hi)[0] == pytest.approx([0.0, 0.5])
    assert minmax(t2, lo, hi)[0] == pytest.approx([0.25, 1.0])
    tw = proxy_token_weights(np.array([0.4, 0.4, 1.0]), [(0, 2), (2, 3)], lo=lo, hi=hi)
    assert tw.weight_minmax == pytest.approx([0.25, 1.0]) and tw.flags == []
    with pytest.raises(ValueError):
        minmax(t1, 0.2, None)


def test_score_is_a_plain_mean_not_divided_by_the_weights():
    u = np.array([0.0, 0.5, 1.0, np.nan])
    nll = np.array([2.0, 2.0, 2.0, 50.0])
    assert trace_score(nll, u) == 1.0  # (0 + 1 + 2) / 3, not 3 / 1.5


def test_no_probabilities_give_u_one_and_a_flag():
    tw = proxy_token_weights(None, [(0, 0), (0, 3), (3, 5)])
    assert tw.flags == ["no-probs"]
    assert np.isnan(tw.weight).all()
    assert tw.weight_minmax[1:].tolist() == [1.0, 1.0] and tw.keep.tolist() == [False, True, True]
    assert proxy_token_weights(np.ones(2), [(0, 0)]).flags == ["empty"]


def test_offsets_outside_the_text_are_an_input_error():
    with pytest.raises(InputError, match=r"proxy token 1 has the offsets \(2, 9\)"):
        token_weights(np.ones(5), [(0, 2), (2, 9)])


def test_bits_per_byte():
    assert bits_per_byte(8 * math.log(2), 4) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        bits_per_byte(1.0, 0)


def test_mask_spans():
    assert mask_spans("a <span>bc</span> d<span></span><span>é!</span>") == (
        "a bc dé!",
        [(2, 4), (6, 8)],
    )
    assert mask_spans("no spans") == ("no spans", [])
    for bad, msg in [
        ("<span>a<span>b</span></span>", "nested <span> at character 7"),
        ("a</span>", "</span> without <span> at character 1"),
        ("<span>a", "never closed"),
    ]:
        with pytest.raises(InputError, match=msg):
            mask_spans(bad)


def test_score_config_hash_is_stable_and_names_the_scope():
    a = ScoreConfig()
    doc = {"minmax": "trace", "prompt": "Question: {x}\nAnswer: ", "version": 1}
    assert a.hash() == hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    assert ScoreConfig(minmax="benchmark").hash() != a.hash()
    assert a.context("2+2?") == "Question: 2+2?\nAnswer: "
    with pytest.raises(UsageError):
        ScoreConfig(minmax="global")
    with pytest.raises(UsageError):
        ScoreConfig(prompt="no placeholder")


# -- token rows ----------------------------------------------------------------------------------
def test_token_rows_round_trip_and_reject_damage():
    blob = pack_token_rows([0, 3], [3, 7], [np.nan, 0.5], [np.nan, 1.0], [1.25, 2.5])
    assert len(blob) == 12 + 2 * 4 * 5
    rows = unpack_token_rows(blob)
    assert rows["starts"].tolist() == [0, 3] and rows["ends"].tolist() == [3, 7]
    assert np.isnan(rows["weight"][0]) and rows["weight"][1] == 0.5
    assert rows["nll"].tolist() == [1.25, 2.5]
    assert rows["weight_minmax"].dtype == np.float32
    empty = unpack_token_rows(pack_token_rows([], [], [], [], None))
    assert all(len(v) == 0 for v in empty.values())
    for damaged, msg in [
        (blob[:-1], "expected 52"),
        (b"XXXX" + blob[4:], "bad magic"),
        (blob[:5], "shorter than the header"),
        (blob[:4] + b"\x09\x00" + blob[6:], "version 9"),
    ]:
        with pytest.raises(ValueError, match=msg):
            unpack_token_rows(damaged)
    with pytest.raises(ValueError, match="nll has 1 values for 2 tokens"):
        pack_token_rows([0, 1], [1, 2], None, None, [1.0])
