"""Multiple-choice metrics from the choices' log-likelihoods (METHODS 5). Pure (numpy only).

A metric's name is its definition as the ecosystem uses it. Per item, with l_c the
log-likelihood of choice c (summed over its continuation's tokens), choice_c the choice's text
as lm-eval's `doc_to_choice` gives it (without the target delimiter) and cont_c the
continuation as scored (the delimiter, " " by default, then the choice):

- `acc`: argmax_c l_c is the gold index (lm-eval's `acc`; OLMES calls it `acc_raw`);
- `acc_norm`: argmax_c l_c / len(choice_c), characters without the delimiter (lm-eval,
  `lm_eval/api/task.py` process_results, multiple_choice: `lls / completion_len`);
- `acc_bytes`: argmax_c l_c / len(choice_c.encode("utf-8")) (lm-eval, `lls / byte_length`);
- `acc_per_char`: argmax_c l_c / len(cont_c), the leading delimiter counted (OLMES /
  OLMo-eval's `acc_per_char`);
- `confidence`: softmax over the l_c, the probability of the selected choice (argmax_c l_c).

Ties take the first maximum (numpy's argmax, as lm-eval). A zero length divides exactly as
lm-eval's numpy code does (l / 0 = -inf for l < 0). Each metric is the mean over items; a
normalised metric whose lengths some item lacks (an imported item without its choices'
texts) is None rather than a mean over a subset. `p_gold` (the softmax probability of the gold
choice) is kept per item for calibration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ArgmaxMetric:
    """An accuracy: argmax over the choices of l_c / length_c (length None: of l_c itself)."""

    name: str
    definition: str
    length: Callable[[str, int], float] | None  # (choice text, continuation chars) -> length
    needs: str | None  # what an item must carry: "choices", "continuations" or None


ACCURACIES: dict[str, ArgmaxMetric] = {
    m.name: m
    for m in (
        ArgmaxMetric("acc", "argmax_c l_c is gold (lm-eval)", None, None),
        ArgmaxMetric(
            "acc_norm",
            "argmax_c l_c / len(choice_c) in characters, without the delimiter (lm-eval)",
            lambda choice, _cont: float(len(choice)),
            "choices",
        ),
        ArgmaxMetric(
            "acc_bytes",
            "argmax_c l_c / UTF-8 bytes of choice_c, without the delimiter (lm-eval)",
            lambda choice, _cont: float(len(choice.encode("utf-8"))),
            "choices",
        ),
        ArgmaxMetric(
            "acc_per_char",
            "argmax_c l_c / len(delimiter + choice_c) in characters (OLMES)",
            lambda _choice, cont: float(cont),
            "continuations",
        ),
    )
}
METRICS = (*ACCURACIES, "confidence")


@dataclass
class McResult:
    values: dict[str, float | None]  # metric -> mean over items (None: not computable)
    n_items: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def metrics(self) -> dict[str, float | None]:
        return dict(self.values)


def softmax(logliks: np.ndarray) -> np.ndarray:
    z = logliks - np.max(logliks)
    e = np.exp(z)
    return e / e.sum()


def _lengths(
    metric: ArgmaxMetric, choices: Sequence[str] | None, cont_chars: Sequence[int] | None, n: int
) -> np.ndarray | None:
    if metric.needs == "choices" and choices is None:
        return None
    if metric.needs == "continuations" and cont_chars is None:
        return None
    texts = choices if choices is not None else [""] * n
    conts = cont_chars if cont_chars is not None else [0] * n
    return np.array([metric.length(t, c) for t, c in zip(texts, conts, strict=True)])


def item_row(
    logliks: Sequence[float],
    gold: int,
    choices: Sequence[str] | None = None,
    cont_chars: Sequence[int] | None = None,
) -> dict[str, Any]:
    """One item's predictions: pred {metric: index}, correct {metric: bool} (only the metrics
    its data allows), confidence, p_gold."""
    ll = np.asarray(logliks, dtype=np.float64)
    if ll.ndim != 1 or len(ll) == 0:
        raise ValueError("an item needs at least one choice log-likelihood")
    if not np.all(np.isfinite(ll)):
        raise ValueError(f"log-likelihoods must be finite, got {ll.tolist()}")
    for what, given in (("choice texts", choices), ("continuation lengths", cont_chars)):
        if given is not None and len(given) != len(ll):
            raise ValueError(f"{len(ll)} log-likelihoods but {len(given)} {what}")
    if not 0 <= gold < len(ll):
        raise ValueError(f"gold index {gold} is outside the {len(ll)} choices")
    pred: dict[str, int] = {}
    for metric in ACCURACIES.values():
        if metric.length is None:
            pred[metric.name] = int(np.argmax(ll))
            continue
        lengths = _lengths(metric, choices, cont_chars, len(ll))
        if lengths is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                pred[metric.name] = int(np.argmax(ll / lengths))
    p = softmax(ll)
    return {
        "pred": pred,
        "correct": {m: i == gold for m, i in pred.items()},
        "confidence": float(p[pred["acc"]]),
        "p_gold": float(p[gold]),
    }


def mc_metrics(
    logliks: Sequence[Sequence[float]],
    gold: Sequence[int],
    choices: Sequence[Sequence[str] | None] | None = None,
    cont_chars: Sequence[Sequence[int] | None] | None = None,
) -> McResult:
    """Means of every metric over the items (None for no items, or where an item lacks the
    lengths a metric needs), and the per-item rows (`item_row`)."""
    n = len(logliks)
    choices = [None] * n if choices is None else choices
    cont_chars = [None] * n if cont_chars is None else cont_chars
    if not n == len(gold) == len(choices) == len(cont_chars):
        raise ValueError("logliks, gold, choices and continuation lengths need one entry per item")
    rows = [
        item_row(ll, int(g), c, k)
        for ll, g, c, k in zip(logliks, gold, choices, cont_chars, strict=True)
    ]
    values: dict[str, float | None] = dict.fromkeys(METRICS)
    if rows:
        for name in ACCURACIES:
            if all(name in r["correct"] for r in rows):
                values[name] = float(np.mean([r["correct"][name] for r in rows]))
        values["confidence"] = float(np.mean([r["confidence"] for r in rows]))
    return McResult(values, len(rows), rows)
