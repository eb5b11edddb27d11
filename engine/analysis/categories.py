"""The benchmark -> capability category map that ships with the app.

The four categories of the Magic Correlations study (papers/magic-correlations-pt-to-sft.md,
sec. 2: commonsense, science, NLI, semantic) are used where they name a benchmark (so BoolQ is
commonsense and WSC semantic, as in the paper); the rest of the benchmarks in lm-eval, Pythia's
and DCLM's suites go to math, code, knowledge, reading, language, symbolic, bias and safety.
The workspace keeps its own copy (`benchmark_categories`), seeded from this map on the first
import and editable (`betr results categories --set bench=cat`).

`category_of` normalises names first (`engine.names.normalise`, the one rule for names), so
"arc_easy", "arc-easy" and "ARC-Easy" all match, and knows family prefixes
("hendrycksTest-anatomy" and "mmlu_anatomy" are knowledge, "crows_pairs_french_age" is bias,
"anli_r2" is NLI).
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.names import normalise

CATEGORIES = (
    "commonsense",
    "science",
    "NLI",
    "semantic",
    "math",
    "code",
    "knowledge",
    "reading",
    "language",
    "symbolic",
    "bias",
    "safety",
    "aggregate",
)

_GROUPS: dict[str, tuple[str, ...]] = {
    "commonsense": (
        "hellaswag",
        "hellaswag_zeroshot",
        "piqa",
        "siqa",
        "social_iqa",
        "socialiqa",
        "csqa",
        "commonsense_qa",
        "commonsenseqa",
        "winogrande",
        "copa",
        "boolq",
        "storycloze",
        "bigbench_novel_concepts",
        "bigbench_strange_stories",
        "bigbench_strategy_qa",
        "swag",
        "xwinograd",
        "xcopa",
    ),
    "science": (
        "arc_easy",
        "arc_challenge",
        "arc",
        "sciq",
        "openbookqa",
        "openbook_qa",
        "obqa",
        "pubmedqa",
        "pubmed_qa",
        "pubmed_qa_labeled",
        "gpqa",
        "gpqa_main",
        "gpqa_diamond",
        "headqa",
        "head_qa",
        "mc_taco",
    ),
    "NLI": (
        "rte",
        "anli",
        "cb",
        "mnli",
        "mnli_mismatched",
        "qnli",
        "wnli",
        "snli",
        "xnli",
        "glue_rte",
        "superglue_rte",
    ),
    "semantic": (
        "qqp",
        "mrpc",
        "wic",
        "wsc",
        "wsc273",
        "winograd",
        "winograd_wsc",
        "multirc",
        "sst2",
        "sst",
        "cola",
    ),
    "math": (
        "gsm8k",
        "gsm8k_cot",
        "math",
        "minerva_math",
        "hendrycks_math",
        "math_qa",
        "mathqa",
        "math500",
        "aqua",
        "aqua_cot",
        "svamp",
        "svamp_cot",
        "agi_eval_sat_math",
        "agi_eval_sat_math_cot",
        "bigbench_elementary_math_qa",
        "simple_arithmetic_nospaces",
        "simple_arithmetic_withspaces",
        "arithmetic",
        "asdiv",
        "mgsm",
    ),
    "code": (
        "humaneval",
        "human_eval",
        "mbpp",
        "mbppplus",
        "humanevalplus",
        "ds1000",
        "bigbench_cs_algorithms",
        "processed_human_eval_cpp",
        "processed_human_eval_js",
    ),
    "knowledge": (
        "mmlu",
        "mmlu_zeroshot",
        "mmlu_fewshot",
        "mmlu_pro",
        "hendryckstest",
        "triviaqa",
        "triviaqa_sm_sub",
        "jeopardy",
        "jeopardy_all",
        "naturalquestions",
        "nq_open",
        "webqs",
        "bigbench_qa_wikidata",
        "bigbench_misconceptions",
        "truthfulqa",
        "truthfulqa_mc",
        "truthfulqa_mc1",
        "truthfulqa_mc2",
        "agieval",
        "global_mmlu",
    ),
    "reading": (
        "squad",
        "squadv2",
        "squad2",
        "drop",
        "coqa",
        "race",
        "quac",
        "narrativeqa",
        "agi_eval_lsat_rc",
        "agi_eval_lsat_lr",
        "agi_eval_sat_en",
        "logiqa",
        "logi_qa",
        "bigbench_understanding_fables",
        "qasper",
    ),
    "language": (
        "lambada",
        "lambada_openai",
        "lambada_standard",
        "wikitext",
        "pile",
        "bigbench_conlang_translation",
        "bigbench_language_identification",
        "bigbench_conceptual_combinations",
        "blimp",
        "paloma",
    ),
    "symbolic": (
        "bigbench_dyck_languages",
        "bigbench_logical_deduction",
        "bigbench_operators",
        "bigbench_repeat_copy_logic",
        "agi_eval_lsat_ar",
        "bbh",
    ),
    "bias": ("crows_pairs", "winogender_mc_female", "winogender_mc_male", "bbq", "toxigen"),
    "safety": ("enterprise_pii_classification",),
    "aggregate": ("dclm_core", "dclm_extended"),
}

# Family prefixes (normalised), longest first at lookup: "<prefix>_<anything>" -> category.
_PREFIXES: dict[str, str] = {
    "hendryckstest": "knowledge",
    "mmlu": "knowledge",
    "global_mmlu": "knowledge",
    "crows_pairs": "bias",
    "anli": "NLI",
    "xnli": "NLI",
    "blimp": "language",
    "minerva_math": "math",
    "hendrycks_math": "math",
    "arithmetic": "math",
    "math": "math",
    "lambada": "language",
    "wikitext": "language",
    "arc": "science",
    "gpqa": "science",
    "triviaqa": "knowledge",
    "truthfulqa": "knowledge",
    "bbh": "symbolic",
    "humaneval": "code",
    "human_eval": "code",
    "mbpp": "code",
    "agieval": "reading",
    "paloma": "language",
    "winogender": "bias",
    "xwinograd": "commonsense",
    "xcopa": "commonsense",
    "gsm8k": "math",
    "squad": "reading",
    "pubmed": "science",
}

DEFAULT_MAP: dict[str, str] = {
    name: category for category, names in _GROUPS.items() for name in names
}


def category_of(benchmark: str, mapping: dict[str, str] | None = None) -> str | None:
    """The category of a benchmark, or None when unknown. `mapping` (e.g. the workspace's,
    possibly edited) is tried first, by exact name and then normalised; then the shipped map;
    then the family prefixes."""
    if mapping:
        if benchmark in mapping:
            return mapping[benchmark]
        norm_map = {normalise(k): v for k, v in mapping.items()}
        hit = norm_map.get(normalise(benchmark))
        if hit is not None:
            return hit
    key = normalise(benchmark)
    if key in DEFAULT_MAP:
        return DEFAULT_MAP[key]
    for prefix in sorted(_PREFIXES, key=len, reverse=True):
        if key.startswith(prefix + "_"):
            return _PREFIXES[prefix]
    return None


def seed_map(benchmarks: Iterable[str], existing: dict[str, str]) -> dict[str, str]:
    """Entries to add to a workspace map for these benchmarks: those it lacks and the shipped
    map (or its prefixes) knows. Existing (possibly edited) entries are never changed."""
    out: dict[str, str] = {}
    for name in sorted(set(benchmarks)):
        if name in existing:
            continue
        category = category_of(name)
        if category is not None:
            out[name] = category
    return out
