-- migration 10: topic clusters of a run's scored sample (engine.betr.clusters)

-- One k-means of a run's scored sample, cached by (run, k, seed): written whole, in the
-- transaction that finishes its job, so a row is always a complete result. The sample's doc
-- ids, each doc's cluster and its cosine to its centroid are packed arrays (one BLOB each,
-- as run_columns), in doc id order.
CREATE TABLE cluster_sets (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    k           INTEGER NOT NULL,
    seed        INTEGER NOT NULL,
    niter       INTEGER NOT NULL,
    n_docs      INTEGER NOT NULL,           -- docs of the scored sample clustered
    dim         INTEGER NOT NULL,           -- dimensions of their vectors
    model_id    TEXT NOT NULL,              -- the embedder whose cached vectors they are
    doc_ids     BLOB NOT NULL,              -- (n_docs,) <i8, ascending
    labels      BLOB NOT NULL,              -- (n_docs,) <i4, 0 = the largest cluster
    cosine      BLOB NOT NULL,              -- (n_docs,) <f4, to the doc's centroid
    job_id      INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    created_at  REAL NOT NULL,
    UNIQUE (run_id, k, seed)
);
CREATE INDEX cluster_sets_job ON cluster_sets(job_id);

-- One cluster: its size, its title words (c-TF-IDF), each target benchmark's pull and the
-- target examples nearest its centroid.
CREATE TABLE clusters (
    set_id   INTEGER NOT NULL REFERENCES cluster_sets(id) ON DELETE CASCADE,
    cluster  INTEGER NOT NULL,              -- 0..k-1, by size
    docs     INTEGER NOT NULL,
    tokens   INTEGER NOT NULL,
    title    TEXT NOT NULL,                 -- JSON [[word, weight], ...], best first
    pull     TEXT NOT NULL,                 -- JSON {benchmark id: docs whose best match it is}
    nearest  TEXT NOT NULL,                 -- JSON [[example id, cosine], ...], nearest first
    PRIMARY KEY (set_id, cluster)
) WITHOUT ROWID;
