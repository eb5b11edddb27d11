"""Text from data, made safe to print on a terminal.

Imported documents, benchmark fields, file names and job titles may hold control characters,
and a terminal executes some of them: OSC 0 retitles the window, OSC 52 writes the clipboard,
CSI sequences move the cursor or clear the screen. Everything the CLI and the TUI print from
data goes through `visible`, which shows each control character as a symbol instead: C0
controls as their Unicode control pictures (ESC as ␛, BEL as ␇, CR as ␍), DEL as ␡, and C1
controls (U+0080..U+009F, which some terminals also execute) as `\\x9b`. Newline and tab stay
as they are (unless `lines=False`). Names are checked at creation (`check_name`): a corpus,
benchmark or target set name with a control character is refused; a name that also becomes a
file or directory name (a proxy dataset) goes through `check_path_name`, which keeps it one
plain path component, so nothing betr derives from a name can land outside its folder.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from engine.errors import UsageError

_KEEP = {"\n", "\t"}
_PICTURES = {c: chr(0x2400 + c) for c in range(0x20)} | {0x7F: "\u2421"}
_C1 = {c: f"\\x{c:02x}" for c in range(0x80, 0xA0)}
_TABLE = {c: p for c, p in (_PICTURES | _C1).items() if chr(c) not in _KEEP}
_TABLE_ONE_LINE = _PICTURES | _C1
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# bidirectional overrides and isolates reorder what follows them on screen ("Trojan source"):
# legitimate in right-to-left text, so shown as they are, but not in names
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_JSON_UNSAFE = re.compile("[\x7f-\x9f]")  # json.dumps escapes C0 itself, not DEL or C1


def visible(text: str, *, lines: bool = True) -> str:
    """`text` with control characters shown as symbols; newline and tab kept when `lines`."""
    if lines:
        return text.translate(_TABLE) if _CONTROL.search(text) else text
    return text.translate(_TABLE_ONE_LINE)


def strip_controls(text: str) -> str:
    """`text` without any control character (for places where a symbol would shift a layout
    that was measured with the control characters' zero width)."""
    return _CONTROL.sub("", text) if _CONTROL.search(text) else text


def json_safe(dumped: str) -> str:
    """JSON text (from json.dumps) with DEL and C1 controls escaped as \\u00XX too."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)


def json_text(data: Any, *, indent: int | None = None) -> str:
    """`data` as JSON that every parser reads: NaN and infinities (which json.dumps would
    write as the non-JSON NaN / Infinity) become null, and DEL and C1 controls are escaped
    (json_safe). What the CLI prints with --json goes through here."""
    dumped = json.dumps(
        _finite(data), indent=indent, ensure_ascii=False, default=str, allow_nan=False
    )
    return json_safe(dumped)


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    if hasattr(data, "dtype") and hasattr(data, "tolist"):  # numpy scalars and arrays
        return _finite(data.tolist())
    return data


def shown_name(name: str) -> str:
    """A name as an error message shows it: controls and bidi overrides made visible."""
    return _BIDI.sub(lambda m: f"<U+{ord(m.group()):04X}>", visible(name, lines=False))


def check_name(what: str, name: str) -> str:
    """`name`, or a UsageError when it holds a control character or a bidi override."""
    bad = re.search("[\x00-\x1f\x7f-\x9f]", name) or _BIDI.search(name)
    if bad:
        raise UsageError(
            f"the {what} name '{shown_name(name)}' holds a control character "
            f"(U+{ord(bad.group()):04X} at position {bad.start() + 1})",
            fix=f"choose a {what} name of printable characters",
        )
    return name


MAX_PATH_NAME = 120  # characters: a file name (with the suffixes betr adds) stays under 255 bytes


def check_path_name(what: str, name: str) -> str:
    """`name`, or a UsageError when it cannot be one file or directory name as it is: empty,
    a path separator, "." or "..", a leading dot (a hidden file, or "..x"), a control
    character, or longer than MAX_PATH_NAME characters. Every name that becomes part of a
    path goes through here."""
    check_name(what, name)
    fix = f"choose a {what} name without '/', '\\' or a leading '.', e.g. web-top10"
    if not name.strip():
        raise UsageError(f"the {what} name is empty", fix=fix)
    if "/" in name or "\\" in name:
        raise UsageError(
            f"the {what} name '{shown_name(name)}' holds a path separator: it would name a "
            "file in another folder",
            fix=fix,
        )
    if name.startswith(".") or name != name.strip():
        raise UsageError(
            f"the {what} name '{shown_name(name)}' starts with '.' or a space, or ends with one",
            fix=fix,
        )
    if len(name) > MAX_PATH_NAME:
        raise UsageError(
            f"the {what} name is {len(name)} characters long, more than {MAX_PATH_NAME}",
            fix=f"choose a shorter {what} name",
        )
    return name
