"""The engine stays headless and the entry points stay light."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import REPO

HEAVY = ("torch", "transformers", "sentence_transformers", "faiss", "fasttext")


def engine_modules() -> list[str]:
    mods = []
    for path in sorted((REPO / "engine").rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not all(p.isidentifier() for p in parts):
            continue  # a migration's data step (NNNN_name.py): read by the store, not imported
        mods.append(".".join(parts))
    return mods


def loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    ).stdout
    return {m.split(".")[0] for m in json.loads(out.splitlines()[-1])}


def test_no_engine_module_imports_textual():
    mods = engine_modules()
    assert "engine.cli" in mods and "engine.jobs.worker" in mods
    loaded = loaded_after("\n".join(f"import {m}" for m in mods))
    assert "textual" not in loaded


def test_importing_the_engine_imports_no_heavy_library():
    loaded = loaded_after("\n".join(f"import {m}" for m in engine_modules()))
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_betr_help_imports_no_torch():
    code = (
        "import sys\nsys.argv = ['betr', '--help']\nfrom engine.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    loaded = loaded_after(code)
    assert "torch" not in loaded
    assert "tokenizers" not in loaded


def test_tui_app_module_imports_no_heavy_library():
    loaded = loaded_after("import tui.app")
    assert not loaded & {*HEAVY, "tokenizers", "pyarrow", "polars"}
