"""Corpus -> tokenizer -> packed token blocks, prepared once per run directory.

Texts are joined with the end-of-text token and cut into blocks of n_ctx+1 tokens (inputs are
block[:-1], targets block[1:]). Under several processes the main process prepares and the
others load the same files, so every rank sees identical data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .. import store


@dataclass
class Prepared:
    path: Path
    tokenizer: Any
    train: Any  # LongTensor [n_blocks, n_ctx + 1]
    eval: Any  # LongTensor [n_eval_blocks, n_ctx + 1]
    meta: dict
    # synthetic tasks score only some positions: targets [n_blocks, n_ctx] aligned with the inputs
    # block[:-1], IGNORE (-100) where unscored; None means language modelling (targets block[1:])
    train_labels: Any = None
    eval_labels: Any = None


def task_data(inputs, labels, eval_inputs, eval_labels, meta: dict | None = None) -> Prepared:
    """A `Prepared` for a synthetic task (`training.data.tasks`): int arrays [n, T] of inputs and
    labels (IGNORE where unscored), so the pre-training loop trains on it unchanged."""
    # torch only when blocks are packed: importing the corpus stays torch-free
    import torch

    def blocks(x):
        x = torch.as_tensor(x, dtype=torch.long)
        return torch.cat(
            [x, torch.zeros_like(x[:, :1])], dim=1
        )  # the last column is never an input

    return Prepared(
        Path("."),
        None,
        blocks(inputs),
        blocks(eval_inputs),
        dict(meta or {}),
        torch.as_tensor(labels, dtype=torch.long),
        torch.as_tensor(eval_labels, dtype=torch.long),
    )


def pack(texts: Iterable[str], tokenizer, n_ctx: int):
    """Concatenate tokenised texts (each followed by EOS) into blocks of n_ctx + 1 tokens."""
    import torch

    ids: list[int] = []
    eos = tokenizer.eos_token_id
    for enc in tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]:
        ids.extend(enc)
        ids.append(eos)
    n = len(ids) // (n_ctx + 1)
    if n == 0:
        raise ValueError(
            f"the corpus has {len(ids)} tokens, fewer than one block of {n_ctx + 1}: add text"
        )
    return torch.tensor(ids[: n * (n_ctx + 1)], dtype=torch.long).view(n, n_ctx + 1)


def corpus_texts(preset, source: str | None) -> tuple[list[str], list[str], dict]:
    """(train texts, held-out texts, facts about the corpus) for the world corpus or a user source."""
    if source is None:
        from .world import World

        world = World(preset.world)
        train = [r["text"] for r in world.pretrain_texts()]
        held = list(world.eval_dataset()["text"])
        return train, held, {"source": "world", **world.stats()}
    from .text import load_text_dataset, split_heldout

    train_ds, held_ds = split_heldout(load_text_dataset(source))
    return (
        list(train_ds["text"]),
        list(held_ds["text"]),
        {"source": source, "n_records": len(train_ds)},
    )


def prepare(run_dir: Path, preset, source: str | None = None) -> Prepared:
    """Build (or reuse) tokenizer + packed blocks in `run_dir/data`."""
    data_dir = Path(run_dir) / "data"
    if not (data_dir / store.MANIFEST).is_file():
        from safetensors.torch import save_file

        from ..tokenizer import train_tokenizer

        train_texts, held_texts, facts = corpus_texts(preset, source)
        tok = train_tokenizer(train_texts, preset.model.vocab_size, preset.model.n_ctx)

        def fill(tmp: Path) -> dict:
            train = pack(train_texts, tok, preset.model.n_ctx)
            held = pack(held_texts, tok, preset.model.n_ctx)
            tok.save_pretrained(tmp)
            save_file({"train": train, "eval": held}, tmp / "blocks.safetensors")
            return {
                "kind": "data",
                "preset": preset.name,
                "corpus": facts,
                "train_blocks": len(train),
                "eval_blocks": len(held),
                "train_tokens": train.numel(),
                "n_ctx": preset.model.n_ctx,
            }

        store.write_atomic(data_dir, fill)
    return load_prepared(data_dir)


def load_prepared(data_dir: Path | str) -> Prepared:
    data_dir = Path(data_dir)
    from safetensors.torch import load_file
    from transformers import PreTrainedTokenizerFast

    meta = store.verify(data_dir)
    blocks = load_file(data_dir / "blocks.safetensors")
    tok = PreTrainedTokenizerFast.from_pretrained(data_dir)
    return Prepared(Path(data_dir), tok, blocks["train"], blocks["eval"], meta)


_bundled_cache: dict[str, Prepared] = {}


def bundled_world(preset_name: str = "cpu") -> Prepared:
    """A preset's world corpus packed with the bundled base model's tokenizer (the BPE every lab
    model shares), built once per process — for the labs that train small models next to the
    base (the live scaling run, stability runs, distillation students)."""
    if preset_name not in _bundled_cache:
        from transformers import PreTrainedTokenizerFast

        from ..presets import get_preset

        tok = PreTrainedTokenizerFast.from_pretrained(store.resolve("base"))
        _bundled_cache[preset_name] = world_blocks(get_preset(preset_name), tok)
    return _bundled_cache[preset_name]


def world_blocks(preset, tokenizer) -> Prepared:
    """A preset's world corpus (training text and held-out biographies) packed with `tokenizer`."""
    from .world import World

    world = World(preset.world)
    train = pack((r["text"] for r in world.pretrain_texts()), tokenizer, preset.model.n_ctx)
    held = pack(world.eval_dataset()["text"], tokenizer, preset.model.n_ctx)
    return Prepared(Path("."), tokenizer, train, held, {"preset": preset.name})


def batch_indices(step: int, n_blocks: int, global_batch: int, seed: int):
    """Block indices for optimizer step `step`: a seeded permutation per epoch, concatenated.
    The data position is a pure function of the step, which makes resume exact."""
    import numpy as np

    start = step * global_batch
    out = []
    while len(out) < global_batch:
        epoch, offset = divmod(start + len(out), n_blocks)
        perm = np.random.default_rng([seed, epoch]).permutation(n_blocks)
        out.extend(perm[offset : offset + global_batch - len(out)].tolist())
    return out
