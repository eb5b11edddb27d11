"""Human-readable numbers, shared by the CLI and the TUI: 1.2M docs, 3.1k/s, ETA 0:41."""

from __future__ import annotations

import math


def abbreviate(n: float | int | None, digits: int = 1) -> str:
    """1234 -> "1.2k", 1_234_567 -> "1.2M"; below 1000 the plain number."""
    if n is None:
        return "-"
    if abs(n) < 1000:
        return f"{n:.0f}" if isinstance(n, int) or float(n).is_integer() else f"{n:.{digits}f}"
    for suffix, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.{digits}f}{suffix}"
    return str(n)


def format_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    units = ("B", "KB", "MB", "GB", "TB")
    i = 0 if n <= 0 else min(len(units) - 1, int(math.log(n, 1024)))
    value = n / 1024**i
    return f"{value:.0f} {units[i]}" if i == 0 else f"{value:.1f} {units[i]}"


def format_duration(seconds: float | None) -> str:
    """Seconds as H:MM:SS or M:SS; "-" when unknown."""
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return "-"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_rate(rate: float | None, unit: str) -> str:
    if rate is None:
        return "-"
    return f"{abbreviate(rate)} {unit}/s"


def progress_summary(
    title: str, fraction: float | None, rate: float | None, unit: str, eta_s: float | None
) -> str:
    """The status line's compact form: "import 62% 3.1k docs/s ETA 0:41"."""
    pct = f"{fraction * 100:.0f}%" if fraction is not None else "…"
    parts = [title, pct]
    if rate is not None:
        parts.append(format_rate(rate, unit))
    if eta_s is not None:
        parts.append(f"ETA {format_duration(eta_s)}")
    return " ".join(parts)
