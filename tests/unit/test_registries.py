"""One registry per extension point (ARCHITECTURE.md): the engine lists each set of names once,
in the pure layer; the API re-exports that registry itself, the CLI's choices and the TUI's
options read it, and no other module of engine/ or tui/ spells the same list again."""

from __future__ import annotations

import ast

import click
import pytest

from tests.helpers import REPO


def registries() -> dict[str, tuple[object, object]]:
    """name -> (the registry in the pure layer (or where it is defined), the API's re-export)."""
    from engine.analysis import bootstrap, correlations
    from engine.analysis.pairing import MATCH_KEYS
    from engine.api import (
        analysis_corr,
        analysis_fit,
        browse,
        compare,
        dups,
        frequency,
        imports,
        labels,
        proxies,
        rbridge,
        results,
        runs,
        scale,
        select,
    )
    from engine.betr import dedup_text, doclabels, minhash, runindex
    from engine.betr import frequency as betr_frequency
    from engine.betr import select as betr_select
    from engine.betr.similarity import AGGREGATIONS
    from engine.exec.scale import ENGINES
    from engine.ingest.benchmarks import FORMATS as BENCHMARK_FORMATS
    from engine.ingest.results import RESULT_FORMATS
    from engine.ops.proxy_nll import BOS_MODES
    from engine.rbridge.formats import TRACE_FORMATS
    from engine.rbridge.weights import MINMAX_SCOPES

    return {
        "aggregations": (AGGREGATIONS, runs.AGGREGATIONS),
        "result formats": (RESULT_FORMATS, results.RESULT_FORMATS),
        "trace formats": (TRACE_FORMATS, rbridge.TRACE_FORMATS),
        "correlation protocols": (correlations.PROTOCOLS, analysis_corr.PROTOCOLS),
        "correlation methods": (correlations.METHODS, analysis_corr.METHODS),
        "checkpoint rules": (correlations.CHECKPOINTS, analysis_corr.CHECKPOINTS),
        "match keys": (MATCH_KEYS, analysis_fit.MATCH_KEYS),
        "fit directions": (analysis_fit.DIRECTIONS, analysis_fit.DIRECTIONS),
        "selection orders": (betr_select.SELECTION_ORDERS, proxies.SELECTION_ORDERS),
        "keep units": (betr_select.KEEP_BY, select.KEEP_BY),
        "BOS modes": (BOS_MODES, proxies.BOS_MODES),
        "MinMax scopes": (MINMAX_SCOPES, rbridge.MINMAX_SCOPES),
        "browse sorts": (runindex.SORTS, browse.SORTS),
        "frequency sorts": (betr_frequency.FREQ_SORTS, frequency.FREQ_SORTS),
        "labels": (doclabels.LABELS, labels.LABELS),
        "engines": (ENGINES, scale.ENGINES),
        "benchmark formats": (BENCHMARK_FORMATS, imports.BENCHMARK_FORMATS),
        "bootstrap methods": (bootstrap.METHODS, compare.BOOTSTRAP_METHODS),
        "duplicate kinds": (dedup_text.DUP_KINDS, dups.DUP_KINDS),
        "shingle hashes": (minhash.SHINGLE_HASHES, dups.SHINGLE_HASHES),
    }


# (command path, parameter) -> the registry its choices are
CLI_CHOICES = {
    (("score",), "aggregate"): "aggregations",
    (("results", "import"), "fmt"): "result formats",
    (("rbridge", "import"), "fmt"): "trace formats",
    (("corr",), "protocol"): "correlation protocols",
    (("corr",), "method"): "correlation methods",
    (("corr",), "checkpoint"): "checkpoint rules",
    (("fit",), "match"): "match keys",
    (("rank",), "match"): "match keys",
    (("rank",), "direction"): "fit directions",
    (("proxy", "train"), "order"): "selection orders",
    (("proxy", "eval"), "bos"): "BOS modes",
    (("rbridge", "score"), "minmax"): "MinMax scopes",
    (("rbridge", "show"), "minmax"): "MinMax scopes",
    (("freq",), "order"): "frequency sorts",
    (("freq",), "by"): "keep units",
    (("docs",), "by"): "keep units",
    (("select",), "by"): "keep units",
    (("tradeoff",), "by"): "keep units",
    (("overlap",), "by"): "keep units",
    (("agreement",), "by"): "keep units",
    (("contamination",), "by"): "keep units",
    (("clusters",), "by"): "keep units",
    (("threshold",), "by"): "keep units",
    (("apply",), "engine"): "engines",
    (("embed",), "engine"): "engines",
    (("threshold",), "engine"): "engines",
    (("import", "bench"), "fmt"): "benchmark formats",
    (("compare",), "method"): "bootstrap methods",
    (("labels", "set"), "label"): "labels",  # and "none", which clears a label
    (("select",), "dedup"): "duplicate kinds",
    (("dups",), "shingle_hash"): "shingle hashes",
}
EXTRA = {(("labels", "set"), "label"): ("none",)}
# choices of the CLI's own nouns (what `betr list|show|delete` act on, an export's file type)
CLI_OWN = {(("list",), "what"), (("show",), "what"), (("delete",), "what")}
CLI_OWN |= {
    (("labels", "export"), "fmt"),
    (("dups",), "kind"),  # dups: a kind or "all"
    (("docs",), "fmt"),
}


def cli_choices() -> dict[tuple[tuple[str, ...], str], click.Choice]:
    from engine.cli import cli

    found = {}

    def walk(cmd: click.Command, path: tuple[str, ...]) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, (*path, name))
            return
        for param in cmd.params:
            if isinstance(param.type, click.Choice):
                found[(path, param.name)] = param.type

    walk(cli, ())
    return found


def test_the_api_re_exports_each_registry_itself():
    for name, (registry, exported) in registries().items():
        assert exported is registry, name


def test_the_clis_choices_are_the_registries_names_read_when_parsed(monkeypatch):
    from engine.cli.common import RegistryChoice

    regs = registries()
    found = cli_choices()
    assert set(found) == set(CLI_CHOICES) | CLI_OWN, "a new choice: from a registry or listed"
    for key, reg_name in CLI_CHOICES.items():
        choice = found[key]
        assert isinstance(choice, RegistryChoice), key
        assert choice.choices == (*regs[reg_name][0], *EXTRA.get(key, ())), key
    # a name registered later (a plugin, this test) is a valid choice at once
    from engine.api.results import RESULT_FORMATS
    from engine.api.runs import AGGREGATIONS

    monkeypatch.setitem(AGGREGATIONS, "toy", AGGREGATIONS["max-rank"])
    monkeypatch.setitem(RESULT_FORMATS, "toy", RESULT_FORMATS["csv"])
    assert found[(("score",), "aggregate")].convert("toy", None, None) == "toy"
    assert "toy" in found[(("results", "import"), "fmt")].choices


def test_the_api_accepts_exactly_the_registered_names(monkeypatch):
    from engine.analysis.pairing import match_key
    from engine.api.results import RESULT_FORMATS
    from engine.api.runs import AGGREGATIONS
    from engine.betr.similarity import aggregation
    from engine.errors import UsageError
    from engine.ingest.results import result_format
    from engine.rbridge.formats import TRACE_FORMATS, trace_format

    cases = [
        (aggregation, AGGREGATIONS, "unknown aggregation 'toy'"),
        (result_format, RESULT_FORMATS, "unknown results format 'toy'"),
        (trace_format, TRACE_FORMATS, "unknown trace format 'toy'"),
    ]
    for lookup, registry, message in cases:
        for name in registry:
            assert lookup(name) is registry[name]
        with pytest.raises(UsageError, match=message) as err:
            lookup("toy")
        assert ", ".join(registry) in str(err.value)  # the fix names every registered one
        monkeypatch.setitem(registry, "toy", next(iter(registry.values())))
        assert lookup("toy") is registry["toy"]
    with pytest.raises(UsageError, match="match on tokens or step"):
        match_key("checkpoint")


def test_the_tuis_options_are_the_registries():
    from engine.api.analysis_corr import METHODS, PROTOCOLS
    from engine.api.analysis_fit import MATCH_KEYS
    from engine.api.rbridge import TRACE_FORMATS
    from engine.api.results import RESULT_FORMATS
    from tui.screens.analysis import corr_tab, selection
    from tui.screens.analysis.format import no_results
    from tui.screens.rbridge.summary import no_traces

    assert tuple(METHODS) == selection.METHODS
    assert tuple(MATCH_KEYS) == selection.MATCHES
    # the Correlations tab switches through every protocol that needs no --attribute, in the
    # registry's order (tiers show inside cross-stage, the protocol they summarise)
    assert corr_tab.PROTOCOLS == ("matrix", "cross-stage", "coherence", "align")
    assert (
        tuple(n for n, p in PROTOCOLS.items() if not p.needs_attribute and p.derived_from is None)
        == corr_tab.PROTOCOLS
    )
    assert "--format lm-eval|dclm|datadecide|csv" in no_results()
    assert "|".join(RESULT_FORMATS) in no_results()
    assert "--format openai|rbridge|mask|plain" in no_traces()
    assert "|".join(TRACE_FORMATS) in no_traces()


def test_no_other_module_spells_a_registrys_names():
    """A tuple, list or set literal of exactly one registry's names, in engine/ or tui/, is
    only where that registry is defined (dicts keyed by the names, e.g. the CLI's printer per
    protocol or the TUI's mark per label, say something per name and are not copies)."""
    names = {
        reg_name: {str(n) for n in registry}
        for reg_name, (registry, _exported) in registries().items()
    }
    copies = []
    for path in sorted([*(REPO / "engine").rglob("*.py"), *(REPO / "tui").rglob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Tuple | ast.List | ast.Set) or len(node.elts) < 2:
                continue
            if not all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
                continue
            spelled = {e.value for e in node.elts}
            for reg_name, reg in names.items():
                if spelled == reg:
                    copies.append((f"{path.relative_to(REPO)}:{node.lineno}", reg_name))
    defined_in = {
        "fit directions": "engine/api/analysis_fit.py",
        "checkpoint rules": "engine/analysis/correlations/__init__.py",
        "correlation methods": "engine/analysis/correlations/stats.py",
        "keep units": "engine/betr/select.py",
        "BOS modes": "engine/ops/proxy_nll.py",
        "MinMax scopes": "engine/rbridge/weights.py",
        "browse sorts": "engine/betr/runindex.py",
        "frequency sorts": "engine/betr/frequency.py",
        "labels": "engine/betr/doclabels.py",
        "engines": "engine/exec/scale/__init__.py",
        "duplicate kinds": "engine/betr/dedup_text.py",
    }
    elsewhere = [(w, r) for w, r in copies if not w.startswith(defined_in.get(r, "\0") + ":")]
    assert elsewhere == []
    assert {r for _w, r in copies} == set(defined_in), "the check finds the definitions"
