"""The SFT Transformation app's tabs: Side by side, Token view, Data, Live SFT and Results, one
module each with its `build_*_tab()`. What they show is computed in `training.sft` (`views`,
`lab`, `build.read_results`); these modules word it, draw it and wire it to gradio."""
