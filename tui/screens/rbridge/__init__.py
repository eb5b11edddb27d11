"""Screen 5, rBridge, as a package of small widgets.

`screen` (the selection and the reads), `tracelist` (the traces of a score, sortable),
`tokens` (a trace's tokens: colourings, wrapping, the status numbers), `tokenview` (the
per-token view, Line API, with its legend and status line), `proxytable` (the proxies on a
benchmark and their curve), `trainform` (the proxy training form), `summary` (texts), `keys`.
"""

from tui.screens.rbridge.screen import RbridgeScreen

__all__ = ["RbridgeScreen"]
