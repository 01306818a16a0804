#!/usr/bin/env bash
# Mutation testing of the core with mutmut (not part of CI: a full run takes tens of minutes).
# Installs a pinned mutmut into its own virtual environment (outside the repo; the project's
# requirements are untouched), copies the repo's files to a scratch directory outside the repo,
# mutates shared/ and the training core (checkpoint store, pre-training loop, generation, SFT
# evaluation) there against the fast tests that cover them, and writes
# benchmarks/results/mutation.json (per group and per file: killed / survived / timeout /
# no tests / total, the score, and every survivor with the reason it was judged equivalent).
#
#   bash benchmarks/mutation.sh                           # both groups (shared, core)
#   bash benchmarks/mutation.sh --group shared            # one group
#   bash benchmarks/mutation.sh --files shared/ui.py      # some files -> mutation.quick.json
#
# Options go to benchmarks/mutation.py (--help). Runs under `nice`; MUTATION_CHILDREN=N sets the
# number of parallel mutants (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
exec nice -n "${MUTATION_NICE:-10}" "${PYTHON:-python}" benchmarks/mutation.py "$@"
