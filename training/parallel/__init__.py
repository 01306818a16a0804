"""Real distributed runs, one folder per parallelism style (as huggingface/picotron keeps them):
`data_parallel/`, `tensor_parallel/`, `fsdp/`, `pipeline_parallel/` — each a torchrun script `run.py`
on the shared scaffolding in `common.py` — plus `activations.py` (one transformer layer's saved
activations measured against Korthikanti et al.), `launch.py` (bounded runs for the app) and
`build.py` (the bundled results, `python -m training parallel`)."""
