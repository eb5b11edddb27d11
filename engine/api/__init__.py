"""Use cases both faces (the `betr` CLI and the `betr-tui` app) call."""
