"""Human-readable numbers, shared by the CLI and the TUI: 1.2M docs, 3.1k/s, ETA 0:41.

`format_number` is the one way a measured value (a probability, a score, an r, a p-value, a
fit parameter, a loss, a share in percent) becomes text: `digits` significant digits, plain
notation from 0.001 to below a million, scientific outside it (1.826e-5), and never cut: a
column that shows it is as wide as the text. Counts use `abbreviate` (1.2M, with the exact
value beside it).
"""

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


def format_number(
    x: float | int | None,
    digits: int = 4,
    *,
    missing: str = "-",
    signed: bool = False,
    zeros: bool = True,
) -> str:
    """`x` to `digits` significant digits (at least): 0.4123, 0.5000, 12.35, 1235, 1.826e-5,
    3.2e7.

    Plain notation for 1e-3 <= |x| < 1e6, its significant zeros kept (integers of more than
    `digits` digits keep all of theirs, rounded to a whole number); scientific outside it with
    the mantissa's trailing zeros and the exponent's sign and leading zeros dropped (1.2e20, as
    compute is written). The shown text is within half a unit of its last significant digit of `x`.
    `missing` for None and NaN; `signed` puts "+" before positive values (a correlation);
    `zeros=False` drops trailing zeros (a value the user typed, such as a keep rate of 10%)."""
    if x is None:
        return missing
    x = float(x)
    if math.isnan(x):
        return missing
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        text = "0"
    else:
        a = abs(x)
        if a < 1e-3 or a >= 1e6:
            mantissa, exponent = f"{x:.{max(1, digits) - 1}e}".split("e")
            if "." in mantissa:
                mantissa = mantissa.rstrip("0").rstrip(".")
            text = f"{mantissa}e{int(exponent)}"
        elif a >= 10 ** (digits - 1):
            text = f"{x:.0f}"
        else:  # significant zeros kept: a column of 0.960, 0.967 reads as one precision
            text = f"{x:#.{digits}g}" if zeros else f"{x:.{digits}g}"
            text = text.rstrip(".")
    return f"+{text}" if signed and x > 0 else text


def format_p(p: float | None, digits: int = 2, *, missing: str = "-") -> str:
    """A p-value: `format_number`, except that 0 (a p below what a float holds, ~1e-308) reads
    "< 1e-300" rather than a p of exactly zero."""
    if p is not None and p == 0:
        return "< 1e-300"
    return format_number(p, digits, missing=missing)


def format_percent(fraction: float | None, digits: int = 3, *, missing: str = "-") -> str:
    """A fraction as a percentage with `format_number`'s digits: 0.1423 -> "14.2%"."""
    if fraction is None:
        return missing
    return f"{format_number(fraction * 100.0, digits, missing=missing)}%"


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
