"""Per-token rows of one scored trace packed into one bytes blob (stored per trace).

Layout (little-endian): a 12-byte header, magic b"RBTK", version (uint16), reserved (uint16,
0), count n (uint32); then starts int32[n], ends int32[n], weight float32[n],
weight_minmax float32[n], nll float32[n]. NaN marks a token without a value (an excluded
token's weight). A blob that does not match this layout raises ValueError on unpack.
"""

from __future__ import annotations

import struct

import numpy as np

MAGIC = b"RBTK"
VERSION = 1
_HEADER = struct.Struct("<4sHHI")
FIELDS = (
    ("starts", "<i4"),
    ("ends", "<i4"),
    ("weight", "<f4"),
    ("weight_minmax", "<f4"),
    ("nll", "<f4"),
)


def pack_token_rows(starts, ends, weight, weight_minmax, nll) -> bytes:
    """One blob from five arrays of the same length (None: all NaN for a float column)."""
    starts = np.asarray(starts).reshape(-1)
    n = len(starts)
    cols = {"starts": starts, "ends": ends, "weight": weight, "weight_minmax": weight_minmax}
    cols["nll"] = nll
    parts = [_HEADER.pack(MAGIC, VERSION, 0, n)]
    for name, dtype in FIELDS:
        value = cols[name]
        if value is None and dtype.endswith("f4"):
            arr = np.full(n, np.nan, dtype=dtype)
        else:
            arr = np.asarray(value).reshape(-1)
            if len(arr) != n:
                raise ValueError(f"{name} has {len(arr)} values for {n} tokens")
            if dtype.endswith("i4") and len(arr) and (arr.min() < 0 or arr.max() > 2**31 - 1):
                raise ValueError(f"{name} out of the int32 range")
            arr = arr.astype(dtype)
        parts.append(arr.tobytes())
    return b"".join(parts)


def unpack_token_rows(blob: bytes) -> dict[str, np.ndarray]:
    """{"starts", "ends" (int32), "weight", "weight_minmax", "nll" (float32)}, each (n,)."""
    blob = bytes(blob)
    if len(blob) < _HEADER.size:
        raise ValueError(f"token rows: {len(blob)} bytes, shorter than the header")
    magic, version, _reserved, n = _HEADER.unpack_from(blob)
    if magic != MAGIC:
        raise ValueError("token rows: not a token-rows blob (bad magic)")
    if version != VERSION:
        raise ValueError(f"token rows: version {version}, this engine reads {VERSION}")
    want = _HEADER.size + n * 4 * len(FIELDS)
    if len(blob) != want:
        raise ValueError(f"token rows: {len(blob)} bytes, expected {want} for {n} tokens")
    out, pos = {}, _HEADER.size
    for name, dtype in FIELDS:
        out[name] = np.frombuffer(blob, dtype=dtype, count=n, offset=pos).copy()
        pos += 4 * n
    return out
