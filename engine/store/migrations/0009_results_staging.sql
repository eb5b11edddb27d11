-- migration 9: results imports write behind staging tables. An import's rows are staged in
-- bounded transactions (never visible to a reader), checked, then moved into eval_results /
-- eval_items in one INSERT ... SELECT; a killed import leaves only staged rows, which the next
-- import (or `betr results delete`) removes. Self-contained: it only adds.

-- 'staging' while its rows are staged (pid/host: the process writing them), 'done' once they
-- are in eval_results; imports made before this migration are done.
ALTER TABLE result_imports ADD COLUMN state TEXT NOT NULL DEFAULT 'done'
    CHECK (state IN ('staging', 'done', 'deleting'));
ALTER TABLE result_imports ADD COLUMN pid INTEGER;
ALTER TABLE result_imports ADD COLUMN host TEXT;

CREATE TABLE eval_results_staging (
    seq        INTEGER PRIMARY KEY,
    import_id  INTEGER NOT NULL REFERENCES result_imports(id) ON DELETE CASCADE,
    run        TEXT NOT NULL,
    size       TEXT,
    params     INTEGER,
    tokens     INTEGER,
    step       INTEGER,
    stage      TEXT,
    benchmark  TEXT NOT NULL,
    category   TEXT,
    metric     TEXT NOT NULL,
    value      REAL,
    attrs      TEXT,
    source     TEXT NOT NULL
);
CREATE INDEX eval_results_staging_import ON eval_results_staging(import_id);

CREATE TABLE eval_items_staging (
    seq        INTEGER PRIMARY KEY,
    import_id  INTEGER NOT NULL REFERENCES result_imports(id) ON DELETE CASCADE,
    run        TEXT NOT NULL,
    size       TEXT,
    params     INTEGER,
    tokens     INTEGER,
    step       INTEGER,
    stage      TEXT,
    benchmark  TEXT NOT NULL,
    item       TEXT NOT NULL,
    gold       INTEGER NOT NULL,
    logliks    TEXT NOT NULL,
    source     TEXT NOT NULL,
    choices    TEXT,
    delimiter  TEXT
);
CREATE INDEX eval_items_staging_import ON eval_items_staging(import_id);
