"""Each app's tabs, one module per tab (tabs/<app>/<tab>.py with a `build_*_tab()` function): UI
only — gradio wiring, prose templates and formatting. The science a tab shows is a function in
`shared/` or `training/` that returns a dataclass; a handler calls it, then formats.
spaces/<app>/app.py composes its tabs into `build_demo()`."""
