-- migration 5: rBridge proxy evaluation (traces, proxies, scores) and evaluation results

-- One reasoning trace of a frontier model for one benchmark question. letter_probs holds one
-- float32 per character of `reasoning` (NULL: the trace has no probabilities yet).
CREATE TABLE traces (
    id           INTEGER PRIMARY KEY,
    benchmark_id INTEGER NOT NULL REFERENCES benchmarks(id) ON DELETE CASCADE,
    ext_id       TEXT NOT NULL,
    question     TEXT NOT NULL,
    reasoning    TEXT NOT NULL,
    gold         TEXT,                -- the gold answer (trace file, else the benchmark's)
    final_answer TEXT,
    letter_probs BLOB,                -- float32 x len(reasoning), or NULL
    prob_source  TEXT NOT NULL,       -- 'frontier', 'teacher:<sha256>', 'none'
    spans        TEXT,                -- JSON [[start, end], ...] (mask format), or NULL
    format       TEXT NOT NULL,
    source       TEXT NOT NULL,       -- "file:line" it came from
    sha256       TEXT NOT NULL,       -- of question, reasoning, gold, spans and letter_probs
    created_at   REAL NOT NULL,
    UNIQUE (benchmark_id, ext_id)
);

-- A local Hugging Face causal LM used as a proxy; checkpoints of one dataset form a curve.
CREATE TABLE proxies (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    path        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    model_type  TEXT,
    params      INTEGER,
    dataset     TEXT,
    step        INTEGER,
    tokens      INTEGER,
    origin      TEXT NOT NULL DEFAULT 'added' CHECK (origin IN ('added', 'trained')),
    job_id      INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    created_at  REAL NOT NULL
);
CREATE INDEX proxies_job ON proxies(job_id);
CREATE INDEX proxies_dataset ON proxies(dataset, tokens);

-- One rBridge scoring of (proxy, benchmark) under a weighting config, over a fingerprinted
-- set of traces: the cache key. state 'done' only once every trace has its row.
CREATE TABLE rbridge_scores (
    id           INTEGER PRIMARY KEY,
    proxy_id     INTEGER NOT NULL REFERENCES proxies(id) ON DELETE CASCADE,
    benchmark_id INTEGER NOT NULL REFERENCES benchmarks(id) ON DELETE CASCADE,
    proxy_sha256 TEXT NOT NULL,
    traces_hash  TEXT NOT NULL,
    config       TEXT NOT NULL,        -- JSON: minmax scope, prompt
    config_hash  TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
    metrics      TEXT NOT NULL DEFAULT '{}',  -- rbridge, nll_rphi, nll_gold, bpb, n_traces, ...
    job_id       INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    created_at   REAL NOT NULL,
    finished_at  REAL,
    UNIQUE (proxy_id, benchmark_id, proxy_sha256, traces_hash, config_hash)
);
CREATE INDEX rbridge_scores_benchmark ON rbridge_scores(benchmark_id);
CREATE INDEX rbridge_scores_job ON rbridge_scores(job_id);

-- Per trace: its score and baselines, and its per-token arrays packed (engine.rbridge.tokenrows).
CREATE TABLE rbridge_trace_scores (
    score_id  INTEGER NOT NULL REFERENCES rbridge_scores(id) ON DELETE CASCADE,
    trace_id  INTEGER NOT NULL REFERENCES traces(id) ON DELETE CASCADE,
    score     REAL,                  -- mean(NLL_i * u_i); NULL when the trace was rejected
    nll_rphi  REAL,
    nll_gold  REAL,
    bpb       REAL,
    n_tokens  INTEGER NOT NULL,
    flags     TEXT NOT NULL DEFAULT '[]',   -- JSON list: 'flat-weights', 'no-probs', ...
    tokens    BLOB,
    PRIMARY KEY (score_id, trace_id)
);
CREATE INDEX rbridge_trace_scores_trace ON rbridge_trace_scores(trace_id);

-- Evaluation results in one long shape (what the analysis layer reads): a proxy's own
-- multiple-choice results, rBridge scores, and imported results files.
CREATE TABLE eval_results (
    id         INTEGER PRIMARY KEY,
    run        TEXT NOT NULL,        -- a dataset / data mixture / model series
    size       TEXT,                 -- model size label
    params     INTEGER,
    tokens     INTEGER,
    step       INTEGER,
    stage      TEXT,                 -- 'PT', 'SFT', ...
    benchmark  TEXT NOT NULL,
    category   TEXT,
    metric     TEXT NOT NULL,
    value      REAL,
    attrs      TEXT,                 -- JSON object of run attributes, or NULL
    source     TEXT NOT NULL,        -- 'proxy:<id>', a file path, ...
    proxy_id   INTEGER REFERENCES proxies(id) ON DELETE CASCADE,
    job_id     INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    created_at REAL NOT NULL
);
CREATE INDEX eval_results_lookup ON eval_results(benchmark, metric, run);
CREATE INDEX eval_results_proxy ON eval_results(proxy_id);
CREATE INDEX eval_results_job ON eval_results(job_id);

-- Per item of a multiple-choice evaluation: the choices' log-likelihoods (calibration reads
-- them), so a metric can be recomputed without the model.
CREATE TABLE mc_items (
    proxy_id     INTEGER NOT NULL REFERENCES proxies(id) ON DELETE CASCADE,
    example_id   INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
    gold         INTEGER NOT NULL,
    logliks      TEXT NOT NULL,      -- JSON list, one per choice
    n_chars      TEXT NOT NULL,      -- JSON list: characters of each choice
    job_id       INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    PRIMARY KEY (proxy_id, example_id)
);
CREATE INDEX mc_items_example ON mc_items(example_id);
CREATE INDEX mc_items_job ON mc_items(job_id);
