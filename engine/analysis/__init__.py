"""The analysis layer (METHODS 3, 4 and 6), pure computation: arrays in, numbers out. No SQL,
no polars frames from the store: `engine.api.analysis` reads the long results table with polars,
reshapes it, and hands these functions arrays."""
