"""Screen 4, Threshold (being built)."""

from __future__ import annotations

from tui.screens.base import BetrScreen


class ThresholdScreen(BetrScreen):
    SCOPE = "threshold"
