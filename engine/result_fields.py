"""The fields of evaluation result rows, in one place: what a results file's row is parsed into
(engine.ingest.results), what an import stages (engine.store.result_imports), what
eval_results and eval_items store before their provenance columns (engine.store.evals) and
what the analyses read (engine.store.eval_columns, eval_summary)."""

# which model (run, its size, tokens and step, the training stage) on which benchmark
MODEL_BENCHMARK_FIELDS = ("run", "size", "params", "tokens", "step", "stage", "benchmark")
# one number of a results row
VALUE_FIELDS = (*MODEL_BENCHMARK_FIELDS, "category", "metric", "value")
# a results row as read from a file and staged
RESULT_FIELDS = (*VALUE_FIELDS, "attrs", "source")
# one multiple-choice item's log-likelihoods, as read from a samples file and staged
ITEM_FIELDS = (*MODEL_BENCHMARK_FIELDS, "item", "gold", "logliks", "source", "choices", "delimiter")
