-- migration 1: documents, benchmarks, target sets, runs, jobs
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE corpora (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    state            TEXT NOT NULL DEFAULT 'importing'
                     CHECK (state IN ('importing', 'ready')),
    created_at       REAL NOT NULL,
    tokenizer        TEXT NOT NULL,
    tokenizer_sha256 TEXT NOT NULL,
    text_field       TEXT NOT NULL,
    id_field         TEXT,
    meta_fields      TEXT NOT NULL DEFAULT '[]',   -- JSON list
    sources          TEXT NOT NULL DEFAULT '[]',   -- JSON list of input names
    n_docs           INTEGER NOT NULL DEFAULT 0,
    n_tokens         INTEGER NOT NULL DEFAULT 0,
    n_chars          INTEGER NOT NULL DEFAULT 0,
    n_skipped        INTEGER NOT NULL DEFAULT 0,
    job_id           INTEGER REFERENCES jobs(id) ON DELETE SET NULL
);

CREATE TABLE docs (
    id        INTEGER PRIMARY KEY,
    corpus_id INTEGER NOT NULL REFERENCES corpora(id) ON DELETE CASCADE,
    ext_id    TEXT NOT NULL,
    text      TEXT NOT NULL,
    n_tokens  INTEGER NOT NULL,
    n_chars   INTEGER NOT NULL,
    source    TEXT NOT NULL,            -- "file:line" (or "file row N") it came from
    meta      TEXT,                     -- JSON object of --meta fields, or NULL
    UNIQUE (corpus_id, ext_id)
);

-- Full-text index over docs.text (external content: the text is stored once).
CREATE VIRTUAL TABLE docs_fts USING fts5(
    text, content='docs', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER docs_fts_insert AFTER INSERT ON docs BEGIN
    INSERT INTO docs_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER docs_fts_delete AFTER DELETE ON docs BEGIN
    INSERT INTO docs_fts(docs_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;

CREATE TABLE benchmarks (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    category    TEXT,
    split       TEXT,
    format      TEXT NOT NULL,
    sources     TEXT NOT NULL DEFAULT '[]',
    n_examples  INTEGER NOT NULL DEFAULT 0,
    n_chars     INTEGER NOT NULL DEFAULT 0,   -- of the embedded texts
    n_skipped   INTEGER NOT NULL DEFAULT 0,
    created_at  REAL NOT NULL
);

CREATE TABLE examples (
    id           INTEGER PRIMARY KEY,
    benchmark_id INTEGER NOT NULL REFERENCES benchmarks(id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,      -- position in the benchmark file
    ext_id       TEXT NOT NULL,
    question     TEXT NOT NULL,
    choices      TEXT,                  -- JSON list, or NULL
    answer       TEXT NOT NULL,
    text         TEXT NOT NULL,         -- what gets embedded
    meta         TEXT,
    UNIQUE (benchmark_id, ext_id)
);

CREATE TABLE target_sets (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);
CREATE TABLE target_set_members (
    target_set_id INTEGER NOT NULL REFERENCES target_sets(id) ON DELETE CASCADE,
    benchmark_id  INTEGER NOT NULL REFERENCES benchmarks(id) ON DELETE CASCADE,
    PRIMARY KEY (target_set_id, benchmark_id)
);

-- A run is one analysis with its full config (BETR scoring, rBridge, fits, ...).
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL,
    name          TEXT,
    config        TEXT NOT NULL,         -- JSON
    config_hash   TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending',
    corpus_id     INTEGER REFERENCES corpora(id) ON DELETE CASCADE,
    target_set_id INTEGER REFERENCES target_sets(id) ON DELETE SET NULL,
    metrics       TEXT NOT NULL DEFAULT '{}',
    created_at    REAL NOT NULL,
    finished_at   REAL
);
CREATE INDEX runs_config_hash ON runs(config_hash);

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,
    title            TEXT NOT NULL,
    config           TEXT NOT NULL,      -- JSON: everything the worker needs
    state            TEXT NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'done', 'failed',
                                      'cancelled', 'interrupted')),
    done             INTEGER NOT NULL DEFAULT 0,
    total            INTEGER,
    unit             TEXT NOT NULL DEFAULT 'items',
    rate             REAL,               -- units per second, this attempt
    eta_s            REAL,
    checkpoint       TEXT,               -- JSON, committed with each chunk
    result           TEXT,               -- JSON summary when done
    error            TEXT,
    pid              INTEGER,
    pgid             INTEGER,
    host             TEXT,
    heartbeat        REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    run_id           INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    created_at       REAL NOT NULL,
    started_at       REAL,
    finished_at      REAL
);
CREATE INDEX jobs_state ON jobs(state);
