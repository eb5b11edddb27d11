"""Letter probabilities of a reasoning trace (METHODS 2, step 1), from the frontier model's
tokens and log-probabilities.

Invariants:
- a letter is one Python character (a Unicode code point) of the text: the proxy tokenizers'
  offsets count the same characters, so one array of letter probabilities serves every proxy;
- a letter's p is exp(logprob) of the frontier token that contains it. With OpenAI `bytes`
  (tokens that split a multi-byte UTF-8 character), a character whose bytes lie in several
  tokens takes the mean p of those tokens;
- when the tokens spell a JSON answer `{"reasoning": "...", "final_answer": ...}`, R is the
  decoded reasoning value and a decoded character takes the mean p of the characters of its
  escape (`\\n`: 2 characters, `\\u00e9`: 6, a surrogate pair `\\ud83d\\ude00`: 12);
- nothing is guessed: a text that cannot be aligned character for character is rejected with
  the first differing offset, and a bad log-probability with the token's index.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np

from engine.errors import InputError

LOGPROB_FIX = (
    "export the log-probabilities exactly as the API returned them (natural log, one finite "
    "value <= 0 per token)"
)
_ESCAPE = re.compile(
    r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"  # surrogate pair
    r"|\\u([0-9a-fA-F]{4})"
    r"|\\(.)",
    re.DOTALL,
)
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r"}
_SIMPLE_ESCAPES["t"] = "\t"
_JSON_START = re.compile(r"\s*(?:```[A-Za-z0-9_-]*\s*)?\{")  # optionally fenced


def _at(where: str) -> str:
    return f"{where}: " if where else ""


def check_logprobs(logprobs: list[float], *, where: str = "") -> np.ndarray:
    """The log-probabilities as float64, or InputError naming the first bad token: not a JSON
    number (true/false and strings such as "-0.5" are not), too large to be a float, NaN,
    infinite, or positive."""
    lp = np.empty(len(logprobs), dtype=np.float64)
    for i, v in enumerate(logprobs):
        if isinstance(v, bool) or not isinstance(v, int | float):
            shown = (
                str(v).lower()
                if isinstance(v, bool)
                else f"the string {json.dumps(v)[:40]}"
                if isinstance(v, str)
                else type(v).__name__
            )
            raise InputError(
                f"{_at(where)}token {i}: logprob is not a number ({shown})", fix=LOGPROB_FIX
            )
        try:
            lp[i] = v
        except OverflowError:
            raise InputError(
                f"{_at(where)}token {i}: logprob is an integer of {len(str(abs(v)))} digits, "
                "too large for a number",
                fix=LOGPROB_FIX,
            ) from None
    bad = np.flatnonzero(~np.isfinite(lp) | (lp > 0.0))
    if len(bad):
        i = int(bad[0])
        v = float(lp[i])
        what = "NaN" if math.isnan(v) else "infinite" if math.isinf(v) else f"positive ({v!r})"
        raise InputError(
            f"{_at(where)}token {i}: logprob is {what}; a log-probability is finite and <= 0",
            fix=LOGPROB_FIX,
        )
    return lp


def letter_probs_from_tokens(
    tokens: list[str],
    logprobs: list[float],
    *,
    token_bytes: list[list[int] | None] | None = None,
    where: str = "",
) -> tuple[str, np.ndarray]:
    """(text, p): the text the tokens spell and p per character of it (float64).

    Without `token_bytes` the text is the concatenation of the token strings and each
    character takes exp(logprob) of its token. With `token_bytes` (one list of byte values per
    token, or None to use the token's own UTF-8) the text is the UTF-8 decoding of all bytes
    and a character split over several tokens takes the mean p of those tokens."""
    if len(tokens) != len(logprobs):
        raise InputError(
            f"{_at(where)}{len(tokens)} tokens but {len(logprobs)} log-probabilities",
            fix="give exactly one logprob per token",
        )
    p_tok = np.exp(check_logprobs(logprobs, where=where))
    if token_bytes is None:
        text = "".join(tokens)
        lens = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
        return text, np.repeat(p_tok, lens)
    if len(token_bytes) != len(tokens):
        raise InputError(
            f"{_at(where)}{len(tokens)} tokens but {len(token_bytes)} byte lists",
            fix="give one `bytes` list (or null) per token",
        )
    chunks = []
    for i, (tok, b) in enumerate(zip(tokens, token_bytes, strict=True)):
        if b is None:
            chunks.append(tok.encode("utf-8"))
            continue
        try:
            chunks.append(bytes(b))
        except (TypeError, ValueError):
            raise InputError(
                f"{_at(where)}token {i}: `bytes` is not a list of byte values 0..255",
                fix="export the token bytes exactly as the API returned them",
            ) from None
    return _decode_bytes(chunks, p_tok, where)


def _decode_bytes(chunks: list[bytes], p_tok: np.ndarray, where: str) -> tuple[str, np.ndarray]:
    raw = b"".join(chunks)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # the token whose bytes hold the bad sequence
        ends = np.cumsum([len(c) for c in chunks])
        i = int(np.searchsorted(ends, exc.start, side="right"))
        raise InputError(
            f"{_at(where)}token {i}: the token bytes are not valid UTF-8 (byte {exc.start} of "
            f"the completion: {exc.reason})",
            fix="check that no token was dropped or reordered (the bytes must decode as UTF-8)",
        ) from None
    byte_tok = np.repeat(np.arange(len(chunks)), [len(c) for c in chunks])
    if len(text) == len(raw):  # all ASCII: one byte per character
        return text, p_tok[byte_tok]
    arr = np.frombuffer(raw, dtype=np.uint8)
    starts = np.flatnonzero((arr & 0xC0) != 0x80)  # first byte of each character
    ends = np.append(starts[1:], len(arr))
    first, last = byte_tok[starts], byte_tok[ends - 1]
    p = p_tok[first].copy()
    for c in np.flatnonzero(first != last):  # a character split over several tokens
        toks = np.unique(byte_tok[starts[c] : ends[c]])
        p[c] = float(np.mean(p_tok[toks]))
    return text, p


def _find_answer_object(text: str, where: str) -> tuple[int, dict] | None:
    """(position of '{', object) of the first JSON object with a string "reasoning", None if
    the text holds none; InputError when the text is a JSON object that does not parse."""
    decoder = json.JSONDecoder(strict=False)
    first_error = None
    pos = text.find("{")
    while pos >= 0:
        try:
            obj, _end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            first_error = first_error or f"invalid JSON: {exc}"
        else:
            if isinstance(obj, dict) and isinstance(obj.get("reasoning"), str):
                return pos, obj
        pos = text.find("{", pos + 1)
    if _JSON_START.match(text) and '"reasoning"' in text:
        raise InputError(
            f'{_at(where)}the answer looks like a JSON object with "reasoning" but does not '
            f"parse: {first_error or 'the reasoning is not a string'}",
            fix="repair the JSON (or exclude the trace); its reasoning cannot be located",
        )
    return None


def _reasoning_value_start(text: str, pos: int) -> int:
    """Index of the opening quote of the (last) "reasoning" value of the object at `pos`."""
    decoder = json.JSONDecoder(strict=False)
    i, found = pos + 1, -1
    ws = " \t\n\r"
    while True:
        while text[i] in ws:
            i += 1
        if text[i] == "}":
            return found
        key, i = json.decoder.scanstring(text, i + 1, False)
        while text[i] in ws:
            i += 1
        i += 1  # ':'
        while text[i] in ws:
            i += 1
        if key == "reasoning":
            found = i
        _value, i = decoder.raw_decode(text, i)
        while text[i] in ws:
            i += 1
        if text[i] == ",":
            i += 1


def _decode_string(text: str, probs: np.ndarray, q: int, where: str) -> tuple[str, np.ndarray]:
    """The JSON string whose opening quote is at `q`, decoded, with p per decoded character."""
    end = q + 1
    while True:  # the closing quote: the first '"' not preceded by an odd run of backslashes
        end = text.index('"', end)
        k = end - 1
        while text[k] == "\\":  # text[q] is the opening quote, so this stops
            k -= 1
        if (end - 1 - k) % 2 == 0:
            break
        end += 1
    pieces: list[str] = []
    spans: list[int] = []  # [start, end) of each escape, flattened
    i = q + 1
    for m in _ESCAPE.finditer(text, q + 1, end):
        pieces.append(text[i : m.start()])
        pieces.append(_unescape(m, where))
        spans += m.span()
        i = m.end()
    pieces.append(text[i:end])
    body = probs[q + 1 : end]
    if not spans:
        return "".join(pieces), body.copy()
    # an escape's p = mean over its characters, written at its first character; the other
    # characters of the escape are dropped (one reduceat, not one mean per escape)
    idx = np.asarray(spans, dtype=np.int64) - (q + 1)
    starts, ends = idx[0::2], idx[1::2]
    values = body.copy()
    values[starts] = np.add.reduceat(np.append(body, 0.0), idx)[0::2] / (ends - starts)
    keep = np.ones(len(body), dtype=bool)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        keep[s + 1 : e] = False
    return "".join(pieces), values[keep]


def _unescape(m: re.Match, where: str) -> str:
    pair_hi, pair_lo, code, simple = m.groups()
    if pair_hi is not None:
        pair = chr(int(pair_hi, 16)) + chr(int(pair_lo, 16))
        return pair.encode("utf-16", "surrogatepass").decode("utf-16")
    if code is not None:
        ch = chr(int(code, 16))
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise InputError(
                f"{_at(where)}a lone surrogate \\u{code} at character {m.start()} of the answer",
                fix="the JSON text is damaged: repair it or exclude the trace",
            )
        return ch
    ch = _SIMPLE_ESCAPES.get(simple)
    if ch is None:
        raise InputError(
            f"{_at(where)}invalid JSON escape \\{simple} at character {m.start()}",
            fix="the JSON text is damaged: repair it or exclude the trace",
        )
    return ch


def reasoning_letter_probs(
    text: str, probs: np.ndarray, *, where: str = ""
) -> tuple[str, np.ndarray, str | None]:
    """(R, p per character of R, final_answer or None).

    When `text` holds a JSON answer object (possibly inside ``` fences or other text), R is
    its decoded "reasoning" value with p mapped through the escapes, and final_answer its
    "final_answer" (a non-string value as compact JSON). Otherwise R is `text` unchanged."""
    probs = np.asarray(probs, dtype=np.float64)
    if len(probs) != len(text):
        raise ValueError(f"{len(probs)} probabilities for {len(text)} characters")
    found = _find_answer_object(text, where)
    if found is None:
        return text, probs, None
    pos, obj = found
    q = _reasoning_value_start(text, pos)
    reasoning, p = _decode_string(text, probs, q, where)
    if reasoning != obj["reasoning"]:  # our decoding must agree with the JSON parser's
        raise AssertionError("decoded reasoning differs from json's")
    fa = obj.get("final_answer")
    final = fa if isinstance(fa, str) or fa is None else json.dumps(fa, ensure_ascii=False)
    return reasoning, p, final


def decode_reasoning(text: str, *, where: str = "") -> tuple[str, str | None]:
    """(R, final_answer) of a completion without log-probabilities, by the same rules."""
    r, _p, final = reasoning_letter_probs(text, np.zeros(len(text)), where=where)
    return r, final


def first_difference(a: str, b: str) -> int:
    """Offset of the first character where a and b differ (len of the shorter if one is a
    prefix of the other); -1 when equal."""
    if a == b:
        return -1
    n = min(len(a), len(b))
    lo, hi = 0, n  # binary search on equal prefixes: fast on long texts
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def context(s: str, at: int, width: int = 20) -> str:
    """A short repr of s around offset `at` for error messages."""
    return repr(s[max(0, at - width) : at + width])


def align_letter_probs(
    expected_r: str, text: str, probs: np.ndarray, *, where: str = ""
) -> np.ndarray:
    """p per character of `expected_r`, when the token text (or its decoded JSON reasoning)
    equals it character for character; otherwise InputError naming the first differing
    offset and both contexts."""
    probs = np.asarray(probs, dtype=np.float64)
    if text == expected_r:
        return probs
    r, p, _final = reasoning_letter_probs(text, probs, where=where)
    if r == expected_r:
        return p
    at = first_difference(expected_r, r)
    what = "the decoded JSON reasoning" if r != text else "the tokens"
    if expected_r.startswith(r):
        raise InputError(
            f"{_at(where)}truncated log-probabilities: {what} cover only the first {len(r)} of "
            f"{len(expected_r)} characters of the reasoning",
            fix="export the log-probabilities of every token of the reasoning",
        )
    raise InputError(
        f"{_at(where)}the reasoning does not match {what}: first difference at character "
        f"{at}: reasoning {context(expected_r, at)} vs tokens {context(r, at)}",
        fix="import the exact text the tokens spell (the trace cannot be aligned, so it is "
        "not guessed)",
    )
