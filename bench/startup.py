"""TUI cold start: process start to first painted frame, vs a minimal Textual app.

Pipeline: the real app, `BetrApp(workspace, exit_after_paint=True)` (it exits as soon as its
first frame is on screen), in a launcher below that notes the wall-clock time of that frame.
Baseline: a one-Label Textual app that does the same. Both run in a fresh interpreter under a
pseudo-terminal of 160x48; the time counted is from just before the process is spawned to
the first paint. One untimed run of each first (byte-compiles), then the median of --runs.

    python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.workspace import Workspace  # noqa: E402

PAINT = re.compile(rb"first paint: epoch=([0-9.]+)")
MINIMAL_APP = """
import sys, time
from textual.app import App, ComposeResult
from textual.widgets import Label

class Minimal(App):
    def compose(self) -> ComposeResult:
        yield Label("hello")

    def on_ready(self) -> None:
        self.painted = time.time()
        self.exit()

app = Minimal()
app.run()
print(f"minimal first paint: epoch={app.painted:.6f}")
"""


TUI_APP = """
import os, sys, time
from engine.workspace import Workspace
from tui.app import BetrApp

def process_start_since_boot():
    with open(f"/proc/{os.getpid()}/stat", "rb") as fh:
        fields = fh.read().rsplit(b")", 1)[1].split()
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: starttime

class FirstPaint(BetrApp):
    def on_ready(self) -> None:  # Textual runs this, then BetrApp.on_ready, which exits
        self.painted = time.time()
        self.since_start = time.clock_gettime(time.CLOCK_BOOTTIME) - process_start_since_boot()

app = FirstPaint(Workspace.open(sys.argv[1]), exit_after_paint=True)
app.run()
print(f"betr-tui first paint: epoch={app.painted:.6f} since_start={app.since_start:.3f}s")
"""


def first_paint_seconds(argv: list[str], env: dict[str, str], timeout: float = 60.0) -> float:
    """Spawn `argv` on a 160x48 pty; seconds from spawn to the first paint it reports."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
    t0 = time.time()
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO, close_fds=True
    )
    os.close(slave)
    output = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    proc.wait(timeout=10)
    match = PAINT.search(output)
    if match is None:
        tail = output[-2000:].decode("utf-8", "replace")
        raise RuntimeError(f"{argv} reported no first paint (rc {proc.returncode}):\n{tail}")
    return float(match.group(1)) - t0


def build_workspace(root: Path) -> Workspace:
    """A small workspace with a corpus row and a few jobs, so the screens have rows to show."""
    from engine.jobs.table import create_job

    ws = Workspace.init(root)
    conn = ws.connect()
    conn.execute(
        "INSERT INTO corpora (name, state, created_at, tokenizer, tokenizer_sha256, text_field, "
        "n_docs, n_tokens, n_chars) VALUES ('bench', 'ready', 0, 'tok', 'sha', 'text', "
        "20000, 1234567, 8765432)"
    )
    for i in range(5):
        job = create_job(conn, "import-docs", f"import part-{i}.jsonl -> bench", {"i": i})
        conn.execute("UPDATE jobs SET state = 'done', done = 100, total = 100 WHERE id = ?", (job,))
    conn.close()
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="betr-startup-") as tmp:
        ws = build_workspace(Path(tmp) / "ws")
        minimal = Path(tmp) / "minimal_app.py"
        minimal.write_text(MINIMAL_APP)
        env = dict(
            os.environ,
            TERM=os.environ.get("TERM", "xterm-256color"),
            BETR_CONFIG=str(Path(tmp) / "no-config.toml"),
            PYTHONPATH=str(REPO),
        )
        tui_app = Path(tmp) / "tui_app.py"
        tui_app.write_text(TUI_APP)
        tui_cmd = [sys.executable, str(tui_app), str(ws.root)]
        base_cmd = [sys.executable, str(minimal)]
        first_paint_seconds(tui_cmd, env)  # untimed: byte-compiles, warms the page cache
        first_paint_seconds(base_cmd, env)
        tui, base = [], []
        for _ in range(args.runs):
            tui.append(first_paint_seconds(tui_cmd, env))
            base.append(first_paint_seconds(base_cmd, env))

    tui_s, base_s = statistics.median(tui), statistics.median(base)
    print(
        f"betr-tui       first paint, median of {args.runs}: {tui_s * 1000:7.0f} ms "
        f"(runs: {', '.join(f'{t * 1000:.0f}' for t in tui)})"
    )
    print(
        f"minimal app    first paint, median of {args.runs}: {base_s * 1000:7.0f} ms "
        f"(runs: {', '.join(f'{t * 1000:.0f}' for t in base)})"
    )
    print(
        f"ratio betr-tui / minimal Textual app: {tui_s / base_s:.2f}x "
        f"(budget: betr-tui under 1500 ms: {'ok' if tui_s < 1.5 else 'OVER'})"
    )


if __name__ == "__main__":
    main()
