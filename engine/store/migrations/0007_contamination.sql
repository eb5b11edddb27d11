-- migration 7: contamination: word n-grams a run's docs share with benchmark examples

-- One check of a run's docs, positions 1..upto of its probability order (the kept set at a
-- keep rate, or the whole pool), against every benchmark imported when it was planned. Its
-- hits are complete only once finished_at is set. A check is reused while the run's results
-- (run_version = runs.finished_at, which a re-apply changes) and the benchmarks
-- (benchmarks_key) are the ones it checked.
CREATE TABLE contamination_checks (
    id             INTEGER PRIMARY KEY,
    run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    n              INTEGER NOT NULL CHECK (n BETWEEN 8 AND 50),
    scope          TEXT NOT NULL CHECK (scope IN ('kept', 'all')),
    keep           REAL,                   -- fraction kept (scope 'kept'), else NULL
    keep_by        TEXT,                   -- tokens | docs (scope 'kept'), else NULL
    upto           INTEGER NOT NULL,       -- positions 1..upto of the probability order
    run_version    REAL,
    benchmarks_key TEXT NOT NULL,          -- sha256 of the benchmarks' ids, names and sizes
    docs_hit       INTEGER,                -- when finished
    hits           INTEGER,
    job_id         INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    created_at     REAL NOT NULL,
    finished_at    REAL                    -- NULL until every doc is checked
);
CREATE INDEX contamination_checks_run ON contamination_checks(run_id, n);
CREATE INDEX contamination_checks_job ON contamination_checks(job_id);

-- One overlap of a doc with an example: characters span_start:span_end of the doc's text,
-- where `ngrams` shared word n-grams lie (engine.betr.contamination).
CREATE TABLE contamination_hits (
    check_id     INTEGER NOT NULL REFERENCES contamination_checks(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,         -- the doc's position in the run's order
    doc_id       INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
    example_id   INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
    benchmark_id INTEGER NOT NULL REFERENCES benchmarks(id) ON DELETE CASCADE,
    span_start   INTEGER NOT NULL,
    span_end     INTEGER NOT NULL,
    ngrams       INTEGER NOT NULL,
    PRIMARY KEY (check_id, position, example_id, span_start)
) WITHOUT ROWID;
CREATE INDEX contamination_hits_doc ON contamination_hits(doc_id);
CREATE INDEX contamination_hits_example ON contamination_hits(example_id);
CREATE INDEX contamination_hits_benchmark ON contamination_hits(benchmark_id);
