"""The RNN / SSM / Transformer app's tabs: one module per tab with its `build_*_tab` function,
handlers that call `training.architectures.figures` (or `shared.recurrence`) and format, and the
tab's prose as module-level templates; `common` holds what they share (names, colours, the
results reader, the chart helper)."""
