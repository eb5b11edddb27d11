"""What the Threshold tabs tell the screen."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import DataTable


class OpenDoc(Message):
    """Open `doc_id` of run `run_id` in the document viewer; ] and [ walk `doc_ids`."""

    def __init__(self, doc_ids: list[int], doc_id: int, run_id: int):
        super().__init__()
        self.doc_ids, self.doc_id, self.run_id = doc_ids, doc_id, run_id


def table_doc_ids(table: DataTable) -> list[int]:
    """The doc ids a table lists (its row keys), in display order."""
    return [int(key.value) for key in table.rows if key.value is not None]
