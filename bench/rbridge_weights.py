"""rBridge weights throughput vs the bare tokenizer, measured in the same run.

Pipeline (engine.rbridge, as the import and the scoring job run it): for each of `n_traces`
synthetic frontier answers (a JSON object {"reasoning": ..., "final_answer": ...}, about
1 500 characters of reasoning with \\n and \\" escapes, tokens of GPT-NeoX-like lengths,
random log-probabilities): letter probabilities from the tokens, the decoded reasoning and
its letter probabilities, the proxy tokenizer's offsets (the bundled GPT-NeoX tokenizer,
`encode_batch` without special tokens), token weights and MinMax per trace.
Baseline: the same tokenizer's bare `encode_batch` of the same reasoning texts.
Setup (making the traces, loading the tokenizer) is not timed; the best of `repeat` runs
of each is compared.

    python bench/rbridge_weights.py [--traces 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.rbridge.letters import letter_probs_from_tokens, reasoning_letter_probs  # noqa: E402
from engine.rbridge.weights import proxy_token_weights  # noqa: E402
from engine.tokenize import load_tokenizer  # noqa: E402

WORDS = (
    "the of and to a in that is was she he sold clips half many April May how altogether "
    "compute first second month add both then total each hour minutes earns 48 24 72 12 50 "
    "so therefore answer = + / * ( ) , . : step we need find number value result equals"
).split()


def synthetic_trace(rng: np.random.Generator, n_chars: int = 1500) -> tuple[list[str], list[float]]:
    """Frontier tokens (mostly ' word' pieces of 1-8 characters, JSON-escaped) and logprobs."""
    tokens = ['{"reasoning": "']
    size = 0
    while size < n_chars:
        r = rng.random()
        if r < 0.04:
            piece = "\\n"
        elif r < 0.05:
            piece = ' \\"'
        else:
            w = WORDS[int(rng.integers(len(WORDS)))]
            piece = (" " if rng.random() < 0.85 else "") + w
            if len(piece) > 6 and rng.random() < 0.3:  # a long word in two tokens
                cut = int(rng.integers(2, len(piece) - 1))
                tokens.append(piece[:cut])
                size += cut
                piece = piece[cut:]
        tokens.append(piece)
        size += len(piece)
    tokens += ['", "final_answer": "', "72", '"}']
    logprobs = np.log(rng.uniform(0.05, 1.0, len(tokens))).tolist()
    return tokens, logprobs


def pipeline(traces, tok) -> list:
    letters = []
    for tokens, logprobs in traces:
        text, p = letter_probs_from_tokens(tokens, logprobs)
        reasoning, rp, _final = reasoning_letter_probs(text, p)
        letters.append((reasoning, rp))
    encodings = tok.encode_batch([r for r, _ in letters], add_special_tokens=False)
    return [
        proxy_token_weights(rp, enc.offsets)
        for (_r, rp), enc in zip(letters, encodings, strict=True)
    ]


def bench_weights(n_traces: int = 1000, repeat: int = 3) -> dict:
    rng = np.random.default_rng(0)
    traces = [synthetic_trace(rng) for _ in range(n_traces)]
    tok = load_tokenizer()._tokenizer
    texts = [reasoning_letter_probs(*letter_probs_from_tokens(*t))[0] for t in traces]
    tok.encode_batch(texts[:10], add_special_tokens=False)  # warm up
    best_pipe = best_base = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = pipeline(traces, tok)
        best_pipe = min(best_pipe, time.perf_counter() - t0)
        t0 = time.perf_counter()
        tok.encode_batch(texts, add_special_tokens=False)
        best_base = min(best_base, time.perf_counter() - t0)
    n_tokens = sum(len(tw.weight) for tw in out)
    return {
        "traces": n_traces,
        "chars": sum(len(t) for t in texts),
        "frontier_tokens": sum(len(t[0]) for t in traces),
        "proxy_tokens": n_tokens,
        "pipeline_s": round(best_pipe, 4),
        "baseline_encode_batch_s": round(best_base, 4),
        "ratio_pipeline_over_baseline": round(best_pipe / best_base, 2),
        "traces_per_s": round(n_traces / best_pipe),
        "goal_under_1s": best_pipe < 1.0,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    res = bench_weights(args.traces, args.repeat)
    print(
        f"rBridge weights: {res['traces']} traces ({res['chars']} chars, "
        f"{res['proxy_tokens']} proxy tokens) in {res['pipeline_s']:.3f} s "
        f"({res['traces_per_s']} traces/s); bare encode_batch {res['baseline_encode_batch_s']:.3f}"
        f" s; ratio {res['ratio_pipeline_over_baseline']}x; goal < 1 s: "
        f"{'met' if res['goal_under_1s'] else 'MISSED'}"
    )
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
