-- migration 4: reliability: an index under every foreign key (a parent's delete never scans a
-- child table), a corpus being deleted in bounded steps, and a staging area for re-applies
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
