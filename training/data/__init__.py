"""Data for the lab: the synthetic world corpus (world.py) and user text (text.py)."""

from training.data.text import CorpusError, load_text_dataset, split_heldout
from training.data.world import (
    ATTRIBUTES,
    MENTION_BUCKETS,
    Person,
    World,
    WorldConfig,
    mention_buckets,
    zipf_slope,
)

__all__ = [
    "ATTRIBUTES",
    "MENTION_BUCKETS",
    "CorpusError",
    "Person",
    "World",
    "WorldConfig",
    "load_text_dataset",
    "mention_buckets",
    "split_heldout",
    "zipf_slope",
]
