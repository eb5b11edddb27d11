"""rBridge hot paths, each against a baseline measured in the same run:

- weights: letter probabilities + proxy-token weights for 1 000 traces (goal: under 1 s), vs
  the bare tokenizer's encode_batch of the same texts (bench/rbridge_weights.py);
- NLL: the proxy NLL operator vs a bare transformers forward loop over the same batches
  (goal: at least 0.85x; bench/rbridge_nll.py);
- trainer: tiny-proxy training tokens/s vs a bare transformers training loop of the same model
  (goal: at least 0.9x; bench/rbridge_train.py).

    python -m bench.rbridge [weights] [nll] [train]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> None:
    parts = (argv if argv is not None else sys.argv[1:]) or ["weights", "nll", "train"]
    results = {}
    if "weights" in parts:
        from bench.rbridge_weights import bench_weights

        results["weights"] = bench_weights()
    if "nll" in parts:
        from bench.rbridge_nll import bench_nll

        results["nll"] = bench_nll()
    if "train" in parts:
        from bench.rbridge_train import bench_train

        results["train"] = bench_train()
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
