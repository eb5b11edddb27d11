"""The Threshold tab's duplicates line: the kept set's duplicate share, exact and near (the docs
and tokens that keeping one doc per cluster, its highest p, would drop), following the keep
rate live. The run's duplicate profile (engine.api.dups.DupProfile) is read once per run in a
thread worker, again when a near-duplicate job finishes; each keep rate is then O(1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on, work
from textual.message import Message
from textual.widgets import Static

from engine.api.browse import RunIndex
from engine.api.dups import DupProfile, DupShare, dup_profile
from engine.units import abbreviate
from tui.reads import reading
from tui.safe_text import one_line
from tui.workers import WorkersReportToApp

if TYPE_CHECKING:
    from engine.api.jobs import JobInfo
    from tui.app_protocol import AppServices


@dataclass
class DupProfileRead(Message):
    run_id: int
    profile: DupProfile | None
    error: str | None


def share_text(share: DupShare) -> str:
    """ "exact 12 docs (1.2%), 3.4k tokens (0.9%)"."""
    return (
        f"{share.kind} {share.docs:,} doc{'s' * (share.docs != 1)} ({share.doc_share:.1%}), "
        f"{abbreviate(share.tokens)} tokens ({share.token_share:.1%})"
    )


def duplicates_text(profile: DupProfile, cut: int) -> Text:
    """The line at `cut` kept rows."""
    corpus = one_line(profile.corpus)
    text = Text("duplicates in the kept set (beyond one per cluster): ")
    exact = profile.share(cut, "exact")
    if profile.unhashed >= len(profile.cum_tokens):
        text.append(f"exact: not hashed (betr dups --corpus {corpus} hashes them)", style="dim")
    elif exact is not None:
        text.append(share_text(exact))
        if profile.unhashed:
            text.append(f" ({profile.unhashed:,} docs not hashed)", style="dim")
    near = profile.share(cut, "near")
    if near is not None:
        text.append(" · " + share_text(near))
    else:
        text.append(f" · near: not detected (betr dups --corpus {corpus} --near)", style="dim")
    return text


class DuplicateLine(WorkersReportToApp, Static):
    """`show(index, keep, by)` at every keep change; reads the profile when the run changes."""

    def __init__(self, **kwargs: Any):
        super().__init__("", **kwargs)
        self.index: RunIndex | None = None
        self.cut = 0
        self.profile: DupProfile | None = None
        self.near_jobs_done: set[int] = set()

    @property
    def services(self) -> AppServices:
        return cast("AppServices", self.app)

    def on_mount(self) -> None:
        self.watch(self.app, "jobs", self.jobs_changed, init=False)

    def show(self, index: RunIndex, keep: float, by: str) -> None:
        self.cut = index.cut(keep, by)
        if self.index is not index:
            self.index, self.profile = index, None
            self.update(Text("duplicates in the kept set: reading…", style="dim"))
            self.read(index)
            return
        self.redraw()

    def redraw(self) -> None:
        if self.profile is not None:
            self.update(duplicates_text(self.profile, self.cut))

    @work(thread=True, exclusive=True, exit_on_error=False, group="th-duplicates")
    def read(self, index: RunIndex) -> None:
        try:
            with reading(self.services.workspace) as conn:
                profile = dup_profile(conn, index)
        except Exception as exc:  # shown on the line, never a crash
            self.post_message(DupProfileRead(index.run_id, None, str(exc)))
            return
        self.post_message(DupProfileRead(index.run_id, profile, None))

    @on(DupProfileRead)
    def profile_read(self, message: DupProfileRead) -> None:
        if self.index is None or message.run_id != self.index.run_id:
            return
        if message.profile is None:
            self.update(Text(f"duplicates: {message.error}", style="dim"))
            return
        self.profile = message.profile
        self.redraw()

    def jobs_changed(self, jobs: list[JobInfo]) -> None:
        """A near-duplicate job that finished since: read the profile again."""
        done = {j.id for j in jobs if j.kind == "near-dups" and j.state == "done"}
        if done - self.near_jobs_done and self.index is not None and self.near_jobs_done:
            self.read(self.index)
        self.near_jobs_done |= done or {0}
