"""The Scaling Laws Explorer's tabs (spaces/scaling_explorer/app.py composes them), in the page's
order: laws, optimal (compute-optimal), returns (diminishing returns), cost, lab (our sweep and the
live micro-run), long_tail; `common` holds what several tabs share (the law chooser, the sweep)."""
