"""The shape of the code (ARCHITECTURE.md): SQL only in engine.store, long modules flagged, the
layers kept by import-linter, no import circle (type-only imports included), and one typed spec
per job kind."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.helpers import REPO

SQL_CALLS = {"execute", "executemany", "executescript"}
# ARCHITECTURE.md: files are cut by concept; length is a smell to look at around 800 lines,
# not a rule to pack code under
MAX_LINES = 800


def product_modules() -> list[Path]:
    return sorted([*(REPO / "engine").rglob("*.py"), *(REPO / "tui").rglob("*.py")])


def sql_calls(path: Path) -> list[str]:
    """`x.execute(...)`-style calls in a module, as "file:line"."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(REPO)}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SQL_CALLS
    ]


def test_only_engine_store_runs_sql():
    """The product's SQL lives in engine/store/ (tests and bench baselines may run their own)."""
    store = REPO / "engine" / "store"
    outside = [
        call for path in product_modules() if store not in path.parents for call in sql_calls(path)
    ]
    assert outside == []
    assert sql_calls(store / "docs.py"), "the check finds calls where there are some"


def test_modules_over_800_lines_are_flagged_for_review():
    """Not a cap: a module past MAX_LINES gets a warning in the test report, for a reviewer to
    ask whether it holds more than one concept."""
    long = {
        str(path.relative_to(REPO)): n
        for path in product_modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    for name, n in sorted(long.items()):
        warnings.warn(f"{name} has {n} lines (> {MAX_LINES}): one concept?", stacklevel=1)


def test_the_import_contracts_hold():
    """import-linter: the layers in one direction, pure code and operators free of the store,
    faces through engine.api, no Textual in the engine, widgets free of screens, no circles."""
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    done = subprocess.run([lint, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Contracts: 6 kept, 0 broken." in done.stdout


def sibling_cycles(graph, package: str) -> dict[str, set[tuple[str, str]]]:
    """Imports that close a circle between the children of `package`, or of any package under
    it (import-linter's acyclic_siblings): package -> the (importer, imported) pairs that would
    break them."""
    found = {}
    children = graph.find_children(package)
    if len(children) >= 2 and (breakers := graph.nominate_cycle_breakers(package)):
        found[package] = breakers
    for child in sorted(children):
        found |= sibling_cycles(graph, child)
    return found


def test_no_import_circle_counting_type_checking_imports():
    """`if TYPE_CHECKING:` imports count: a screen that imports the App for a type still ties
    the two modules together (the import-linter contract leaves them out). A screen that needs
    the App's type uses `tui.app_protocol.AppServices`."""
    import grimp

    graph = grimp.build_graph("engine", "tui", exclude_type_checking_imports=False, cache_dir=None)
    assert {**sibling_cycles(graph, "engine"), **sibling_cycles(graph, "tui")} == {}


def test_the_circle_check_sees_an_import_made_only_for_type_checking(tmp_path, monkeypatch):
    import grimp

    toy = tmp_path / "toy_circle"
    toy.mkdir()
    (toy / "__init__.py").write_text("")
    (toy / "app.py").write_text("from toy_circle import screen\n")
    (toy / "screen.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from toy_circle import app\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    counted = grimp.build_graph("toy_circle", exclude_type_checking_imports=False, cache_dir=None)
    assert set(sibling_cycles(counted, "toy_circle")) == {"toy_circle"}
    left_out = grimp.build_graph("toy_circle", exclude_type_checking_imports=True, cache_dir=None)
    assert sibling_cycles(left_out, "toy_circle") == {}


def test_every_job_kind_has_a_spec_and_a_function():
    from engine.jobs.registry import JOB_FUNCTIONS, job_function
    from engine.jobs.specs import all_specs

    SPECS = all_specs()

    assert set(SPECS) == set(JOB_FUNCTIONS)
    for kind in SPECS:
        assert callable(job_function(kind)), kind


@pytest.mark.parametrize(
    ("kind", "config", "message"),
    [
        ("betr-apply", {}, "betr-apply job: ApplySpec.__init__() missing 1 required positional"),
        ("betr-apply", {"run_id": "3"}, "betr-apply job: field 'run_id' must be an integer"),
        ("betr-apply", {"run_id": True}, "field 'run_id' must be an integer, got True"),
        ("betr-apply", {"run_id": 3, "extra": 1}, "betr-apply job: unknown field(s) extra"),
        (
            "import-docs",
            {"corpus": "c", "paths": "a.jsonl"},
            "import-docs job: field 'paths' must be a list of texts, got 'a.jsonl'",
        ),
        (
            "betr-train",
            {"run_id": 1, "positive_frac": 1.5},
            "--positive-frac must be between 0 and 1 (exclusive), got 1.5",
        ),
        ("betr-train", {"run_id": 1, "fasttext": [1]}, "field 'fasttext' must be an object"),
        ("nope", {}, "unknown job kind 'nope'"),
        # checks every kind shares, by field name (issue 19.6)
        (
            "proxy-mc-eval",
            {"proxy_id": 1, "benchmark_ids": [1], "device": "tpu"},
            "unknown --device 'tpu'",
        ),
        (
            "rbridge-generate",
            {"benchmark_id": 1, "model": "/m", "batch_size": 0},
            "--batch-size must be at least 1, got 0",
        ),
        (
            "rbridge-score",
            {"score_id": 1, "proxy_id": 1, "benchmark_id": 1, "device": "cuda:x"},
            "unknown --device 'cuda:x'",
        ),
        (
            "demo-experiment",
            {"corpus_id": 1, "run_id": 1, "out_dir": "/o", "seed": -1},
            "--seed must be between 0 and 4294967295, got -1",
        ),
        (
            "demo-experiment",
            {"corpus_id": 1, "run_id": 1, "out_dir": "/o", "keep": float("nan")},
            "--keep must be a finite number, got nan",
        ),
        (
            "proxy-train",
            {
                "corpus_id": 1,
                "dataset": "d",
                "out_dir": "/o",
                "params": 10**6,
                "tokens": 10**6,
                "lr": float("inf"),
            },
            "--lr must be a finite number",
        ),
        (
            "proxy-train",
            {"corpus_id": 1, "dataset": "../d", "out_dir": "/o", "params": 10**6, "tokens": 10**6},
            "the dataset name '../d' holds a path separator",
        ),
    ],
)
def test_a_job_config_is_checked_against_its_spec(kind, config, message):
    from engine.errors import UsageError
    from engine.jobs.specs import spec_from_config

    with pytest.raises(UsageError) as err:
        spec_from_config(kind, config)
    assert message in str(err.value)


def test_a_spec_round_trips_through_its_stored_config():
    import json

    from engine.jobs.specs import ImportDocsSpec, TrainSpec, spec_from_config

    docs = ImportDocsSpec(corpus="web", paths=["/d/a.jsonl", "/d/b.jsonl"], meta_fields=["url"])
    assert docs.paths == ("/d/a.jsonl", "/d/b.jsonl")  # JSON lists become tuples
    assert docs.title == "import a.jsonl +1 -> web"
    stored = json.loads(json.dumps(docs.to_config()))
    assert stored["paths"] == ["/d/a.jsonl", "/d/b.jsonl"]
    assert spec_from_config("import-docs", stored) == docs
    train = TrainSpec(run_id=4, positive_frac=0.2, fasttext={"epoch": 3})
    assert (train.run_id_of, train.title) == (4, "train run 4")
    assert spec_from_config("betr-train", json.loads(json.dumps(train.to_config()))) == train


# -- data is text: the one way a data string reaches a widget (tui/safe_text.py) ------------------
def tui_calls(names: set[str]) -> list[tuple[str, ast.Call]]:
    """Calls of `names` (as a name or an attribute) in the TUI's modules, with "file:line"."""
    out = []
    for path in sorted((REPO / "tui").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
                if isinstance(f, ast.Subscript):  # Select[str](...)
                    v = f.value
                    name = v.id if isinstance(v, ast.Name) else getattr(v, "attr", None)
                if name in names:
                    out.append((f"{path.relative_to(REPO)}:{node.lineno}", node))
    return out


def test_every_static_and_label_shows_plain_text():
    """A Static or Label parses a str as markup unless told not to: every one in the TUI is
    built with markup=False (what it shows from data then reads as it is)."""
    parsing = [
        where
        for where, call in tui_calls({"Static", "Label"})
        if not any(
            k.arg == "markup" and getattr(k.value, "value", None) is False for k in call.keywords
        )
    ]
    assert parsing == []
    assert len(tui_calls({"Static", "Label"})) > 50, "the check finds the widgets"


def test_tables_and_selects_are_the_plain_ones():
    """Every table is a PlainTable and every Select a PlainSelect (tui/widgets/): they pass
    their cells, labels and options through `plain`; a bare DataTable or Select would parse a
    run name such as DCLM's `...-seed=125_...]` as markup."""
    bare = [where for where, _call in tui_calls({"DataTable", "Select"})]
    assert bare == []
    subclasses = []
    for path in sorted((REPO / "tui").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                bases |= {getattr(getattr(b, "value", None), "id", "") for b in node.bases}
                if bases & {"DataTable", "Select"}:
                    subclasses.append(node.name)
    assert sorted(subclasses) == ["PlainSelect", "PlainTable"]
