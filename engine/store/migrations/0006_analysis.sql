-- migration 6: the analysis layer: per-item multiple-choice results of imported evaluations
-- (calibration, confidence), the editable benchmark -> category map, and result imports

-- One item of an evaluation (an lm-eval samples file, ...): the choices' log-likelihoods and
-- the gold index, keyed like eval_results rows (run, size, tokens/step, stage, benchmark).
CREATE TABLE eval_items (
    id         INTEGER PRIMARY KEY,
    run        TEXT NOT NULL,
    size       TEXT,
    params     INTEGER,
    tokens     INTEGER,
    step       INTEGER,
    stage      TEXT,
    benchmark  TEXT NOT NULL,
    item       TEXT NOT NULL,        -- the item's id in its source (doc_id, index)
    gold       INTEGER NOT NULL,
    logliks    TEXT NOT NULL,        -- JSON list, one per choice
    source     TEXT NOT NULL,
    import_id  INTEGER REFERENCES result_imports(id) ON DELETE CASCADE,
    created_at REAL NOT NULL
);
CREATE INDEX eval_items_lookup ON eval_items(run, benchmark, stage);
CREATE INDEX eval_items_import ON eval_items(import_id);

-- One `betr results import`: what was read, so its rows can be listed and dropped together.
CREATE TABLE result_imports (
    id         INTEGER PRIMARY KEY,
    format     TEXT NOT NULL,
    sources    TEXT NOT NULL DEFAULT '[]',   -- JSON list of paths
    n_rows     INTEGER NOT NULL DEFAULT 0,
    n_items    INTEGER NOT NULL DEFAULT 0,
    n_dropped  INTEGER NOT NULL DEFAULT 0,   -- NaN / missing values dropped and counted
    created_at REAL NOT NULL
);

ALTER TABLE eval_results ADD COLUMN import_id INTEGER REFERENCES result_imports(id) ON DELETE CASCADE;
CREATE INDEX eval_results_import ON eval_results(import_id);

-- The benchmark -> category map (commonsense, science, NLI, ...): seeded from the one that
-- ships with the app, editable with `betr results categories set`.
CREATE TABLE benchmark_categories (
    benchmark TEXT PRIMARY KEY,
    category  TEXT NOT NULL
) WITHOUT ROWID;
