"""Tensor parallelism: a Megatron column/row-parallel MLP, checked against the unsplit MLP."""
