"""A tiny, randomly initialised GPT-NeoX causal LM saved as a proxy directory (config.json,
model.safetensors, tokenizer.json): what the rBridge tests score with. Constructed here, not
downloaded; deterministic for a seed."""

from __future__ import annotations

from pathlib import Path

TRAIN_TEXT = (
    "Question: Natalia sold clips to 48 of her friends in April, and then she sold half as many "
    "clips in May. How many clips did Natalia sell altogether in April and May?\n"
    "Answer: In May she sold 48 / 2 = 24 clips. Altogether she sold 48 + 24 = 72 clips.\n"
    "The reasoning: first compute the second month, then add both months. Café naïve résumé.\n"
    "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting.\n"
)


def make_tokenizer(vocab_size: int = 300, *, bos: bool = False):
    """A byte-level BPE trained on TRAIN_TEXT (every byte is in the vocabulary, so any text
    encodes); with bos=True a post-processor adds <|endoftext|> in front when special tokens
    are requested."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([TRAIN_TEXT] * 4, trainer=trainer)
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", 0)]
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def make_tiny_lm_dir(
    path: Path,
    *,
    seed: int = 0,
    vocab_size: int = 300,
    hidden: int = 32,
    layers: int = 2,
    bos: bool = False,
    max_positions: int = 512,
) -> Path:
    """`max_positions` sets max_position_embeddings (small: the NLL operator's windows)."""
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    path.mkdir(parents=True, exist_ok=True)
    tok = make_tokenizer(vocab_size, bos=bos)
    tok.save(str(path / "tokenizer.json"))
    torch.manual_seed(seed)
    config = GPTNeoXConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=4 * hidden,
        max_position_embeddings=max_positions,
        bos_token_id=0,
        eos_token_id=0,
        use_cache=False,
    )
    model = GPTNeoXForCausalLM(config)
    model.save_pretrained(str(path), safe_serialization=True)
    return path
