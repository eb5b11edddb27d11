"""The proxy NLL operator: per-token NLL equals a direct full forward pass computed here
(model(input_ids).logits -> log_softmax -> gather) on tiny random GPT-NeoX models, whatever the
batch composition, chunk size, BOS or length; multiple-choice log-likelihoods likewise."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.ops.proxy_nll import ProxyNLL, mc_continuation, plan_windows  # noqa: E402

TEXTS = [
    "Natalia sold clips to 48 of her friends in April.",
    "Café naïve résumé",
    "x",
    "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes.",
    " 72",
]


class Reference:
    """The model and tokenizer loaded independently of the operator."""

    def __init__(self, path):
        from tokenizers import Tokenizer
        from transformers import AutoModelForCausalLM

        self.tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()

    def ids(self, text: str, special: bool = False) -> list[int]:
        return self.tok.encode(text, add_special_tokens=special).ids

    def nll(self, context: list[int], target: list[int]) -> np.ndarray:
        """-log p(target_j | context, target_<j) from one full forward pass of context+target."""
        ids = torch.tensor([context + target])
        with torch.no_grad():
            logp = torch.log_softmax(self.model(input_ids=ids).logits[0].double(), dim=-1)
        n = len(context)
        return np.array([-logp[n + j - 1, t].item() for j, t in enumerate(target)])


@pytest.fixture(scope="module")
def ref(tiny_lm_dir):
    return Reference(tiny_lm_dir)


@pytest.fixture(scope="module")
def ref_bos(tiny_lm_dir_bos):
    return Reference(tiny_lm_dir_bos)


@pytest.fixture(scope="module")
def short_dir(tmp_path_factory):
    from tests.tiny_lm import make_tiny_lm_dir

    return make_tiny_lm_dir(
        tmp_path_factory.mktemp("tiny-lm-16") / "proxy", seed=2, max_positions=16
    )


def items(ref: Reference) -> tuple[list[list[int]], list[list[int]]]:
    """Contexts and targets of very different lengths, an empty target among them."""
    ctx = [ref.ids(TEXTS[0]), ref.ids(TEXTS[2]), ref.ids(TEXTS[3]), ref.ids(TEXTS[1]), [7]]
    tgt = [ref.ids(TEXTS[1]), ref.ids(TEXTS[3]), ref.ids(TEXTS[4]), [], ref.ids(TEXTS[0])]
    return ctx, tgt


@pytest.mark.parametrize(("batch_size", "chunk"), [(1, None), (2, 3), (3, 1), (8, 7), (8, None)])
def test_nll_equals_direct_forward_for_any_batching_and_chunking(
    tiny_lm_dir, ref, batch_size, chunk
):
    op = ProxyNLL(tiny_lm_dir, device="cpu", batch_size=batch_size, chunk_positions=chunk)
    ctx, tgt = items(ref)
    out = op({"id": list(range(len(ctx))), "context_ids": ctx, "target_ids": tgt})
    assert out["id"] == list(range(len(ctx)))  # other columns pass through
    assert [len(n) for n in out["nll"]] == [len(t) for t in tgt]
    for c, t, nll in zip(ctx, tgt, out["nll"], strict=True):
        assert nll.dtype == np.float64
        if t:
            np.testing.assert_allclose(nll, ref.nll(c, t), rtol=1e-5, atol=1e-5)
    assert op.loaded.dtype == "float32" and op.max_positions == 512


def test_padding_does_not_change_a_sequence_s_nll(tiny_lm_dir, ref):
    op = ProxyNLL(tiny_lm_dir, device="cpu", batch_size=4)
    c, t = ref.ids(TEXTS[2]), ref.ids(TEXTS[1])
    alone = op({"context_ids": [c], "target_ids": [t]})["nll"][0]
    long_c, long_t = ref.ids(TEXTS[3] * 3), ref.ids(TEXTS[0] * 2)
    padded = op({"context_ids": [long_c, c], "target_ids": [long_t, t]})["nll"][1]
    np.testing.assert_allclose(padded, alone, rtol=1e-5, atol=1e-6)


def test_bos_context_and_offsets(tiny_lm_dir_bos, ref_bos):
    op = ProxyNLL(tiny_lm_dir_bos, device="cpu", batch_size=2, chunk_positions=4)
    question = "Question: How many clips?\nAnswer: "
    ctx = op.encode_context(question)
    assert ctx[0] == 0 and ctx == ref_bos.ids(question, special=True)
    assert ctx[1:] == ref_bos.ids(question)
    reasoning = TEXTS[1] + " " + TEXTS[0]
    r_ids, offsets = op.encode(reasoning, add_special_tokens=False)
    assert r_ids == ref_bos.ids(reasoning)
    # character offsets cover the text (a character split over byte tokens is in both)
    assert {i for s, e in offsets for i in range(s, e)} == set(range(len(reasoning)))
    assert all(0 <= s <= e <= len(reasoning) for s, e in offsets)
    with_bos, off_bos = op.encode(reasoning, add_special_tokens=True)
    assert (with_bos[0], off_bos[0], with_bos[1:]) == (0, (0, 0), r_ids)
    nll = op({"context_ids": [ctx, [0]], "target_ids": [r_ids, r_ids]})["nll"]
    np.testing.assert_allclose(nll[0], ref_bos.nll(ctx, r_ids), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(nll[1], ref_bos.nll([0], r_ids), rtol=1e-5, atol=1e-5)
    assert op.encode_context("") == [0]


def test_plan_windows_by_hand():
    assert plan_windows(3, 0, 16) == []
    assert plan_windows(3, 5, None) == [(0, 8, 3)]
    assert plan_windows(10, 6, 16) == [(0, 16, 10)]  # fits exactly
    assert plan_windows(20, 5, 16) == [(9, 25, 20)]  # context cut from the left
    assert plan_windows(1, 15, 16) == [(0, 16, 1)]
    assert plan_windows(2, 15, 16) == [(1, 17, 2)]  # the target whole, one context token
    # the target alone does not fit: pieces of 8, each with a window of up to 16 tokens
    assert plan_windows(3, 40, 16) == [
        (0, 11, 3),
        (3, 19, 11),
        (11, 27, 19),
        (19, 35, 27),
        (27, 43, 35),
    ]
    assert plan_windows(1, 16, 16) == [(0, 9, 1), (1, 17, 9)]
    with pytest.raises(ValueError, match="at least one token"):
        plan_windows(0, 3, 16)


def test_sequences_longer_than_max_positions(short_dir):
    ref = Reference(short_dir)
    op = ProxyNLL(short_dir, device="cpu", batch_size=3, chunk_positions=5)
    op.setup()
    assert op.max_positions == 16
    long_text = TEXTS[3] + " " + TEXTS[0]
    ids = ref.ids(long_text)
    assert len(ids) > 40
    ctx, tgt = ids[:20], ids[20:25]
    short_ctx, short_tgt = ids[:2], ids[2:6]
    big_tgt = ids[3:43]
    out = op(
        {
            "context_ids": [ctx, short_ctx, ids[:3]],
            "target_ids": [tgt, short_tgt, big_tgt],
        }
    )["nll"]
    # the target fits: context truncated from the left to 16 - 5 = 11 tokens
    np.testing.assert_allclose(out[0], ref.nll(ctx[-11:], tgt), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[1], ref.nll(short_ctx, short_tgt), rtol=1e-5, atol=1e-5)
    # 40 target tokens: each piece of 8 scored in the 16-token window that ends with it
    seq = ids[:3] + big_tgt
    expected = []
    for a in range(3, 43, 8):
        b = a + 8
        window = seq[max(0, b - 16) : b]
        context = window[: len(window) - 8]
        expected.append(ref.nll(context, window[len(context) :]))
    assert len(out[2]) == 40
    np.testing.assert_allclose(out[2], np.concatenate(expected), rtol=1e-5, atol=1e-5)


def test_empty_context_is_refused(tiny_lm_dir):
    op = ProxyNLL(tiny_lm_dir, device="cpu")
    with pytest.raises(ValueError, match="at least one token"):
        op({"context_ids": [[]], "target_ids": [[5, 6]]})
    assert op({"context_ids": [[]], "target_ids": [[]]})["nll"][0].shape == (0,)


def test_mc_continuation_convention():
    assert mc_continuation("Answer:", "oxygen") == " oxygen"
    assert mc_continuation("Answer:", " oxygen") == " oxygen"
    assert mc_continuation("Answer: ", "oxygen") == "oxygen"
    assert mc_continuation("Answer:", "\n42") == "\n42"


@pytest.mark.parametrize("which", ["plain", "bos"])
def test_mc_logliks_equal_direct_computation(tiny_lm_dir, tiny_lm_dir_bos, which):
    path = tiny_lm_dir if which == "plain" else tiny_lm_dir_bos
    ref = Reference(path)
    op = ProxyNLL(path, device="cpu", batch_size=3, chunk_positions=2)
    contexts = ["Question: Which gas do plants take in?\nAnswer:", "Question: 2 + 2 =\nAnswer: "]
    choices = [["oxygen", "carbon dioxide", " nitrogen"], ["4", "five"]]
    got = op.mc_logliks(contexts, choices)
    for context, opts, row in zip(contexts, choices, got, strict=True):
        ctx = ref.ids(context, special=True)  # no EOS is added by these tokenizers
        assert len(row) == len(opts)
        for choice, (loglik, n_tokens) in zip(opts, row, strict=True):
            text = choice if choice[0].isspace() or context[-1].isspace() else " " + choice
            tgt = ref.ids(text)
            assert n_tokens == len(tgt)
            assert loglik == pytest.approx(-ref.nll(ctx, tgt).sum(), rel=1e-5, abs=1e-5)
            assert math.isfinite(loglik) and loglik < 0


def test_a_model_without_a_separate_head_runs_whole(tiny_lm_dir, ref):
    op = ProxyNLL(tiny_lm_dir, device="cpu", batch_size=2, chunk_positions=3)
    op.setup()
    op._base = None  # what setup() does for a model whose base_model is itself
    ctx, tgt = items(ref)
    for c, t, nll in zip(ctx, tgt, op({"context_ids": ctx, "target_ids": tgt})["nll"], strict=True):
        if t:
            np.testing.assert_allclose(nll, ref.nll(c, t), rtol=1e-5, atol=1e-5)
