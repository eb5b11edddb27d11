-- migration 3: browsing: a run's columns as packed arrays, and hand labels on documents
-- prob_order and run_sample packed into numpy arrays (one BLOB per column), written with
-- prob_order, so a screen loads a million-doc run in milliseconds instead of a row scan.
CREATE TABLE run_columns (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    dtype  TEXT NOT NULL,                   -- numpy dtype string, little-endian
    data   BLOB NOT NULL,
    PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

-- A reader's judgement of a document: good, bad or skip (one per doc; the run it was
-- labelled under is kept for provenance).
CREATE TABLE doc_labels (
    doc_id     INTEGER PRIMARY KEY REFERENCES docs(id) ON DELETE CASCADE,
    label      TEXT NOT NULL CHECK (label IN ('good', 'bad', 'skip')),
    run_id     INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    prob       REAL,                        -- p(positive) in that run when labelled
    created_at REAL NOT NULL
);
