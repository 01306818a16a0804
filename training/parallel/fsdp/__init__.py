"""Fully sharded data parallelism (ZeRO-3): FSDP2 `fully_shard`, bytes per rank and all-gather times."""
