"""`betr` in this process on a given workspace, for tests that drive several workspaces."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

from engine.cli import main
from engine.workspace import Workspace


def betr(ws: Workspace, *args: str) -> tuple[int, str, str]:
    """`betr ARGS -w WS`: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([*args, "-w", str(ws.root)])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def betr_json(ws: Workspace, *args: str) -> Any:
    """`betr ARGS -w WS --json`, which must succeed, parsed."""
    code, out, err = betr(ws, *args, "--json")
    assert code == 0, err
    return json.loads(out)
