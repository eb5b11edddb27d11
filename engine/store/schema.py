"""Numbered schema migrations. `PRAGMA user_version` holds the number of the last one applied.

Append new migrations at the end; never edit one that has shipped. Later issues (BETR runs,
rBridge traces, proxy scores, eval results, fits, correlations) add their tables here.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: documents, benchmarks, target sets, runs, jobs
    """
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
    """,
    # 2: BETR scoring: embedding cache, the scored sample, classifier probabilities
    """
    -- Embeddings keyed by (model id, sha256 of the text): re-running never re-embeds a text.
    CREATE TABLE embeddings (
        model_id    TEXT NOT NULL,
        text_sha256 BLOB NOT NULL,              -- 32 raw bytes
        vec         BLOB NOT NULL,              -- (dim,) float16
        PRIMARY KEY (model_id, text_sha256)
    ) WITHOUT ROWID;

    -- The run's sample S with its BETR rank scores and classifier labels.
    CREATE TABLE run_sample (
        run_id       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        doc_id       INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
        score        REAL,                      -- aggregation score (1/best rank for max-rank)
        best_rank    INTEGER,                   -- NULL: beyond the final k
        best_cosine  REAL,
        example_id   INTEGER REFERENCES examples(id) ON DELETE SET NULL,
        benchmark_id INTEGER REFERENCES benchmarks(id) ON DELETE SET NULL,
        label        INTEGER,                   -- 1 positive, 0 negative
        split        TEXT,                      -- train | valid | unused (dropped by balancing)
        PRIMARY KEY (run_id, doc_id)
    ) WITHOUT ROWID;
    CREATE INDEX run_sample_order ON run_sample(run_id, score DESC, best_cosine DESC, doc_id);

    -- Files under models/ (fastText .bin, proxy checkpoints), each with its sha256.
    CREATE TABLE artifacts (
        id         INTEGER PRIMARY KEY,
        run_id     INTEGER REFERENCES runs(id) ON DELETE CASCADE,
        kind       TEXT NOT NULL,
        path       TEXT NOT NULL,               -- relative to the workspace
        sha256     TEXT NOT NULL,
        created_at REAL NOT NULL
    );

    -- p(positive) for every doc of the corpus, and the probability order with cumulative
    -- tokens, so "keep X% of tokens" is a binary search.
    CREATE TABLE doc_probs (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        doc_id INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
        prob   REAL NOT NULL,
        PRIMARY KEY (run_id, doc_id)
    ) WITHOUT ROWID;
    CREATE TABLE prob_order (
        run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        position   INTEGER NOT NULL,            -- 1 = most likely positive
        doc_id     INTEGER NOT NULL,
        prob       REAL NOT NULL,
        n_tokens   INTEGER NOT NULL,
        cum_tokens INTEGER NOT NULL,            -- tokens of positions 1..position
        PRIMARY KEY (run_id, position)
    ) WITHOUT ROWID;
    CREATE INDEX prob_order_cum ON prob_order(run_id, cum_tokens);
    """,
    # 3: browsing: a run's columns as packed arrays, and hand labels on documents
    """
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
    """,
    # 4: reliability: an index under every foreign key (a parent's delete never scans a child
    # table), a corpus being deleted in bounded steps, and a staging area for re-applies
    """
    CREATE INDEX run_sample_doc ON run_sample(doc_id);
    CREATE INDEX run_sample_example ON run_sample(example_id);
    CREATE INDEX run_sample_benchmark ON run_sample(benchmark_id);
    CREATE INDEX doc_probs_doc ON doc_probs(doc_id);
    CREATE INDEX target_set_members_benchmark ON target_set_members(benchmark_id);
    CREATE INDEX runs_corpus ON runs(corpus_id);
    CREATE INDEX runs_target_set ON runs(target_set_id);
    CREATE INDEX jobs_run ON jobs(run_id);
    CREATE INDEX corpora_job ON corpora(job_id);
    CREATE INDEX artifacts_run ON artifacts(run_id);
    CREATE INDEX doc_labels_run ON doc_labels(run_id);

    -- set when `betr delete corpus` starts: the corpus is hidden from analyses while its rows
    -- go in bounded transactions; a delete that was interrupted is finished by running it again
    ALTER TABLE corpora ADD COLUMN deleting_at REAL;

    -- p(positive) of an apply in progress (by the job that computes it): the finished result
    -- replaces doc_probs in one transaction, so an aborted re-apply never destroys the old one.
    -- No foreign key to docs: a doc deleted meanwhile is dropped by the swap's join.
    CREATE TABLE apply_staging (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        doc_id INTEGER NOT NULL,
        prob   REAL NOT NULL,
        job_id INTEGER NOT NULL,
        PRIMARY KEY (run_id, doc_id)
    ) WITHOUT ROWID;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
