"""betr engine: the headless core of betr-tui (never imports textual)."""

__version__ = "0.1.0"
