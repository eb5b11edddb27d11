-- migration 8: metric names that mean what the ecosystem means by them
-- (lm-evaluation-harness for acc_norm / acc_bytes, OLMES for acc_per_char, the rBridge release
-- for bpb on mask traces); the data step 0008_metric_definitions.py recomputes what it can.

-- A proxy's own `acc_norm` was argmax_c l_c / len(" " + choice_c): that is OLMES's
-- acc_per_char, not lm-eval's acc_norm (l_c / len(choice_c)). The rename is exact.
UPDATE eval_results SET metric = 'acc_per_char'
 WHERE proxy_id IS NOT NULL AND import_id IS NULL AND metric = 'acc_norm';

-- The rBridge score's `bpb` was the mean over traces of each trace's bits per byte after
-- betr's prompt: betr's own variant, now `bpb_prompted`. `bpb` is the release's number (mask
-- traces: question + reasoning tokenized together, span-overlap tokens, summed over the
-- benchmark); a score over mask traces without it is redone on its next `betr rbridge score`.
UPDATE eval_results SET metric = 'bpb_prompted'
 WHERE proxy_id IS NOT NULL AND import_id IS NULL AND metric = 'bpb';
UPDATE rbridge_scores
   SET metrics = json_remove(json_set(metrics, '$.bpb_prompted', json_extract(metrics, '$.bpb')),
                             '$.bpb')
 WHERE json_type(metrics, '$.bpb') IS NOT NULL;

-- Per trace, the release's masked-span sums (NULL for a trace without spans): NLL in nats of
-- the tokens overlapping a span, and the spans' UTF-8 bytes, words and scored tokens.
ALTER TABLE rbridge_trace_scores ADD COLUMN mask_nll REAL;
ALTER TABLE rbridge_trace_scores ADD COLUMN mask_bytes INTEGER;
ALTER TABLE rbridge_trace_scores ADD COLUMN mask_words INTEGER;
ALTER TABLE rbridge_trace_scores ADD COLUMN mask_tokens INTEGER;

-- The BOS convention a proxy's item was scored under (`betr proxy eval --bos`): 'auto' (what
-- the tokenizer.json adds, the only convention before), 'always' or 'never'.
ALTER TABLE mc_items ADD COLUMN bos TEXT NOT NULL DEFAULT 'auto';

-- An imported item's choices as lm-eval's doc_to_choice gives them (the scored continuations
-- without the target delimiter) and that delimiter, so acc_norm, acc_bytes and acc_per_char
-- can be shown per item; NULL where the samples file did not carry them.
ALTER TABLE eval_items ADD COLUMN choices TEXT;
ALTER TABLE eval_items ADD COLUMN delimiter TEXT;
