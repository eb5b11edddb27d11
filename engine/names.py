"""Names a user types or a file carries, matched against the names a workspace knows.

Two rules, each in one function, used wherever names are matched:

- `normalise`: one benchmark spelled by different sources is one name. lm-eval writes
  `arc_easy`, DCLM `arc_easy`, an imported benchmark file is often named `arc-easy`, a paper
  `ARC-Easy`: all normalise to `arc_easy` (lower case; runs of spaces, `-`, `_`, `.` and `/`
  become one `_`). An exact name always wins over a normalised match.
- `suggest` (and `resolve`, which raises with it): a name that matches nothing gets the closest few known names (difflib on the
  normalised spellings), never the whole list (a DCLM import has 400 runs).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from itertools import repeat

from engine.errors import NotFoundError, UsageError

_SEPARATORS = re.compile(r"[\s\-_./]+")
CLOSEST = 5  # suggestions given for a name that matches nothing
LIST_ALL_UNDER = 8  # a list this short is given whole when nothing is close
CUTOFF = 0.6  # difflib's ratio below which a known name is not "close"


def normalise(name: str) -> str:
    """Lower case, runs of whitespace, '-', '_', '.' and '/' become one '_', none at the ends:
    "ARC-Easy" -> "arc_easy", "hendrycksTest-abstract_algebra" -> "hendryckstest_abstract_algebra"."""
    return _SEPARATORS.sub("_", str(name).strip().lower()).strip("_")


def same_name(a: str, b: str) -> bool:
    return a == b or normalise(a) == normalise(b)


def matching(name: str, known: Iterable[str]) -> list[str]:
    """The known names that are `name`: the exact one if known, else every known name with the
    same normalised spelling (sorted; several when a workspace holds more than one spelling)."""
    known = list(known)
    if name in known:
        return [name]
    key = normalise(name)
    return sorted({k for k in known if normalise(k) == key})


def canonical(names: Iterable[str], weights: Iterable[int] | None = None) -> dict[str, str]:
    """Each name -> the spelling its benchmark is shown by: of the names that normalise alike,
    the one with the most weight (occurrences by default), ties to the first in sort order."""
    counts: dict[str, int] = {}
    for name, w in zip(names, repeat(1) if weights is None else weights, strict=False):
        counts[name] = counts.get(name, 0) + w
    best: dict[str, str] = {}
    for name in sorted(counts):
        key = normalise(name)
        if key not in best or counts[name] > counts[best[key]]:
            best[key] = name
    return {name: best[normalise(name)] for name in counts}


def spellings(name: str, known: Iterable[str]) -> list[str]:
    """Every known name that is `name` spelled some way (results: rows named `arc_easy` and
    `arc-easy` are one benchmark's), sorted."""
    key = normalise(name)
    return sorted({k for k in known if normalise(k) == key})


def closest(name: str, known: Iterable[str], n: int = CLOSEST) -> list[str]:
    """Up to n known names closest to `name` (difflib ratio on normalised spellings, then names
    that contain it or that it contains), best first."""
    by_key: dict[str, list[str]] = {}
    for k in sorted(set(known)):
        by_key.setdefault(normalise(k), []).append(k)
    key = normalise(name)
    out: list[str] = []
    for hit in difflib.get_close_matches(key, list(by_key), n=n, cutoff=CUTOFF):
        out += by_key[hit]
    if len(out) < n and key:
        out += [
            k for nk, ks in by_key.items() if key in nk or nk in key for k in ks if k not in out
        ]
    return out[:n]


def suggest(
    name: str,
    known: Iterable[str],
    what: str,
    *,
    listing: str | None = None,
    plural: str | None = None,
) -> str:
    """A fix line for an unknown `what` called `name`: "did you mean a, b or c?" with the
    closest few; when none is close, the whole list if short, else how many there are and
    where to list them (`listing`, e.g. "betr results list")."""
    known = sorted(set(known))
    whats = plural or f"{what}s"
    if not known:
        return f"there are no {whats} yet"
    near = closest(name, known)
    if near:
        quoted = [f"'{k}'" for k in near]
        head = ", ".join(quoted[:-1]) + (" or " if len(quoted) > 1 else "") + quoted[-1]
        return f"did you mean {head}?"
    if len(known) <= LIST_ALL_UNDER:
        return f"known {whats}: {', '.join(known)}"
    where = f" (list them: {listing})" if listing else ""
    return f"none of the {len(known)} known {whats} is close, e.g. {', '.join(known[:3])}{where}"


def resolve(name: str, known: Iterable[str], what: str, *, listing: str | None = None) -> str:
    """The known name that `name` means: itself, else its one other spelling. Nothing matches:
    NotFoundError with the closest few; several spellings match: UsageError naming them."""
    known = list(known)
    found = matching(name, known)
    if len(found) == 1:
        return found[0]
    if found:
        raise UsageError(
            f"'{name}' matches several {what}s: {', '.join(found)}", fix="give the exact name"
        )
    raise NotFoundError(f"unknown {what} '{name}'", fix=suggest(name, known, what, listing=listing))
