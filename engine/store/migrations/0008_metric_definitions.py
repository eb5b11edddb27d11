"""Data step of migration 8: lm-eval's acc_norm and acc_bytes for the proxies' stored
multiple-choice evaluations, recomputed from the stored per-item log-likelihoods.

The SQL renamed each proxy's old `acc_norm` row (argmax l_c / len(" " + choice_c)) to
`acc_per_char`. Here, per (proxy, benchmark) with such a row, the items stored for it give
acc_norm = mean over items of [argmax_c l_c / len(choice_c) == gold] and acc_bytes (over UTF-8
bytes). The stored items can be more than the ones a row was computed over (an evaluation with
--limit after a longer one), so the new rows are written only when the items reproduce the
row's own acc and acc_per_char exactly; otherwise the row is left renamed and `betr proxy eval`
computes the rest from the stored items. Ties take the first maximum (numpy's argmax, as
lm-eval). Self-contained on purpose: a migration never imports today's code.
"""

import json

COLUMNS = (
    "run, size, params, tokens, step, stage, benchmark, category, attrs, source, proxy_id, "
    "job_id, import_id, created_at"
)


def _argmax(values):
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def _mean_correct(items, length):
    hits = 0
    for ll, gold, choices, n_chars in items:
        lengths = [length(c, k) for c, k in zip(choices, n_chars, strict=True)]
        if any(n <= 0 for n in lengths):
            return None
        hits += _argmax([v / n for v, n in zip(ll, lengths, strict=True)]) == gold
    return hits / len(items)


def _items(conn, proxy_id, benchmark):
    out = []
    for ll, gold, n_chars, choices in conn.execute(
        "SELECT m.logliks, m.gold, m.n_chars, e.choices FROM mc_items m "
        "JOIN examples e ON e.id = m.example_id JOIN benchmarks b ON b.id = e.benchmark_id "
        "WHERE m.proxy_id = ? AND b.name = ?",
        (proxy_id, benchmark),
    ):
        ll, n_chars, choices = json.loads(ll), json.loads(n_chars), json.loads(choices or "null")
        if not isinstance(choices, list) or not len(ll) == len(n_chars) == len(choices):
            return []
        out.append((ll, gold, [str(c) for c in choices], n_chars))
    return out


def migrate(conn):
    rows = conn.execute(
        "SELECT id, proxy_id, benchmark, value FROM eval_results "
        "WHERE metric = 'acc_per_char' AND proxy_id IS NOT NULL AND import_id IS NULL"
    ).fetchall()
    for row_id, proxy_id, benchmark, per_char in rows:
        acc = conn.execute(
            "SELECT value FROM eval_results WHERE proxy_id = ? AND benchmark = ? AND metric = "
            "'acc' AND import_id IS NULL",
            (proxy_id, benchmark),
        ).fetchone()
        items = _items(conn, proxy_id, benchmark)
        if acc is None or not items:
            continue
        same = (
            _mean_correct(items, lambda _c, _k: 1),
            _mean_correct(items, lambda _c, k: k),
        )
        if same != (acc[0], per_char):
            continue
        for metric, length in (
            ("acc_norm", lambda c, _k: len(c)),
            ("acc_bytes", lambda c, _k: len(c.encode("utf-8"))),
        ):
            value = _mean_correct(items, length)
            if value is None:
                continue
            conn.execute(
                f"INSERT INTO eval_results (metric, value, {COLUMNS}) "
                f"SELECT ?, ?, {COLUMNS} FROM eval_results WHERE id = ?",
                (metric, value, row_id),
            )
