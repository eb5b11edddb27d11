-- migration 11: duplicates. Every doc's exact-duplicate hash (computed at import; the data step
-- 0011_duplicates.py fills it for the docs imported before), and near-duplicate results (MinHash
-- LSH clusters of a corpus, engine.betr.minhash) with the band keys a job stages on the way.

-- exact_hash: BLAKE2b-64 of the text in NFC, lowercased, whitespace collapsed
-- (engine.betr.dedup_text.exact_hash); equal hashes in a corpus are exact duplicates
CREATE TABLE doc_hashes (
    doc_id     INTEGER PRIMARY KEY REFERENCES docs(id) ON DELETE CASCADE,
    corpus_id  INTEGER NOT NULL REFERENCES corpora(id) ON DELETE CASCADE,
    exact_hash INTEGER NOT NULL
);
CREATE INDEX doc_hashes_corpus ON doc_hashes(corpus_id, exact_hash);

-- One near-duplicate detection of a corpus with its parameters (JSON: n_grams, buckets, rows,
-- seed, shingle_hash). Its members are complete only once finished_at is set.
CREATE TABLE near_dup_runs (
    id          INTEGER PRIMARY KEY,
    corpus_id   INTEGER NOT NULL REFERENCES corpora(id) ON DELETE CASCADE,
    params      TEXT NOT NULL,
    job_id      INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    n_docs      INTEGER,                 -- docs looked at (when finished)
    n_signed    INTEGER,                 -- of them with at least one shingle
    n_clusters  INTEGER,
    n_members   INTEGER,
    created_at  REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX near_dup_runs_corpus ON near_dup_runs(corpus_id);
CREATE INDEX near_dup_runs_job ON near_dup_runs(job_id);

-- a chunk of docs signed by the job: their ids (int64) and band keys ((n, buckets) uint64),
-- dropped when the run finishes
CREATE TABLE near_dup_bands (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES near_dup_runs(id) ON DELETE CASCADE,
    last_doc_id INTEGER NOT NULL,
    doc_ids     BLOB NOT NULL,
    keys        BLOB NOT NULL
);
CREATE INDEX near_dup_bands_run ON near_dup_bands(run_id, last_doc_id);

-- the docs in a cluster of at least two (cluster: 0.. within the run)
CREATE TABLE near_dup_members (
    run_id  INTEGER NOT NULL REFERENCES near_dup_runs(id) ON DELETE CASCADE,
    doc_id  INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
    cluster INTEGER NOT NULL,
    PRIMARY KEY (run_id, doc_id)
) WITHOUT ROWID;
CREATE INDEX near_dup_members_doc ON near_dup_members(doc_id);
CREATE INDEX near_dup_members_cluster ON near_dup_members(run_id, cluster);
