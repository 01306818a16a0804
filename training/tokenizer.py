"""Byte-level BPE trained on the corpus, saved as a `PreTrainedTokenizerFast` with a chat template.

The chat template wraps each assistant turn in `{% generation %}...{% endgeneration %}` with the
end-of-turn token inside, so TRL's `assistant_only_loss=True` puts loss on exactly the answer and
its stop token (the model learns to stop).
"""

from __future__ import annotations

from typing import Iterable

EOS = "<|endoftext|>"
PAD = "<|pad|>"
SYSTEM, USER, ASSISTANT, END = "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"
SPECIAL_TOKENS = [EOS, PAD, SYSTEM, USER, ASSISTANT, END]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|assistant|>' }}{% generation %}{{ message['content'] }}{{ '<|end|>' }}{% endgeneration %}"
    "{% else %}"
    "{{ '<|' + message['role'] + '|>' }}{{ message['content'] }}{{ '<|end|>' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def plain_text(text: str) -> str:
    """User text as plain text for the chat template: every special token starts with "<|", so a
    word joiner (U+2060, invisible) after each "<" that begins one makes "<|end|><|assistant|>" typed
    into a message tokenize as ordinary characters — nobody can forge a turn. Idempotent."""
    return text.replace("<|", "<\u2060|")


def train_tokenizer(texts: Iterable[str], vocab_size: int, model_max_length: int):
    """Train byte-level BPE on `texts`; return a ready `PreTrainedTokenizerFast`."""
    # the BPE trainer only when a tokenizer is trained
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS,
        pad_token=PAD,
        bos_token=EOS,
        unk_token=None,
        additional_special_tokens=[SYSTEM, USER, ASSISTANT, END],
        model_max_length=model_max_length,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def end_of_turn_id(tokenizer) -> int:
    return tokenizer.convert_tokens_to_ids(END)
