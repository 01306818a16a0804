"""The Training at Scale app's tabs (spaces/training_at_scale/app.py composes them), in the page's
order: `cost` (the suite's one cost panel: scale, cost and why one computer cannot do it),
`stability`, `inference`, `compare` (training vs inference, its content in `solutions`)."""
