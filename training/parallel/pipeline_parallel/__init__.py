"""Pipeline parallelism: a real GPipe / 1F1B step (`torch.distributed.pipelining`), every op timed."""
