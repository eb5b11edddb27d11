"""Benchmark correlations (METHODS 4), one package: the statistics (stats: r, p and n with the
n/a rules, blocks of columns), the results table as runs x benchmarks pivots (pivots, polars),
the protocols over those pivots (protocols) and one protocol from rows to a JSON-ready dict
(run).

PROTOCOLS is the registry of protocols (name -> Protocol: what it computes and what it reads)
and METHODS the correlation methods; engine.api.analysis_corr re-exports both for the faces. A
new protocol is one function of ProtocolInput, one entry in PROTOCOLS and one test. Importing
this package is light (numpy): polars and scipy load when a protocol runs.
"""

from __future__ import annotations

from engine.analysis.correlations.protocols import PROTOCOLS, Protocol, ProtocolInput
from engine.analysis.correlations.request import CorrRequest, CorrResult
from engine.analysis.correlations.stats import METHODS

# a run with several checkpoints under one key: refuse ("error"), or keep each run's last
CHECKPOINTS = ("error", "last")

__all__ = [
    "CHECKPOINTS",
    "METHODS",
    "PROTOCOLS",
    "CorrRequest",
    "CorrResult",
    "Protocol",
    "ProtocolInput",
]
