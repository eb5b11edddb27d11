"""Screen 3, Documents (being built)."""

from __future__ import annotations

from tui.screens.base import BetrScreen


class DocumentsScreen(BetrScreen):
    SCOPE = "documents"
