-- migration 2: BETR scoring: embedding cache, the scored sample, classifier probabilities
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
