-- migration: the Documents screen's columns. Self-contained: it only adds.

-- the columns a user chose to show for a corpus (a JSON list of column names, in order)
CREATE TABLE corpus_columns (
    corpus_id   INTEGER PRIMARY KEY REFERENCES corpora(id) ON DELETE CASCADE,
    columns     TEXT NOT NULL,
    updated_at  REAL NOT NULL
);

-- one text field of every doc of a corpus (its source file, a metadata field), packed once
-- read so sorting and frequency tables by it need no pass over the docs: `doc_id` int64
-- ascending, `code` int32 into `categories` (a JSON list in lexical order), -1 for no value.
-- `n_docs` is the corpus's doc count when it was read (a corpus that changed reads it again).
CREATE TABLE field_columns (
    corpus_id   INTEGER NOT NULL REFERENCES corpora(id) ON DELETE CASCADE,
    field       TEXT NOT NULL,
    n_docs      INTEGER NOT NULL,
    doc_id      BLOB NOT NULL,
    code        BLOB NOT NULL,
    categories  TEXT NOT NULL,
    created_at  REAL NOT NULL,
    PRIMARY KEY (corpus_id, field)
);
