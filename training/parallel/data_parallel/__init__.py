"""Data parallelism: DistributedDataParallel, checked against one process on the whole batch."""
