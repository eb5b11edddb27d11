"""The fields of one evaluation result row, in one place: what a results file's row is parsed
into (engine.ingest.results.rows), what an import stages (engine.store.result_imports) and
what eval_results stores before its provenance columns (engine.store.evals)."""

RESULT_FIELDS = (
    "run",
    "size",
    "params",
    "tokens",
    "step",
    "stage",
    "benchmark",
    "category",
    "metric",
    "value",
    "attrs",
    "source",
)
