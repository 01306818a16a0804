"""Mutation testing of the core with mutmut (driven by benchmarks/mutation.sh; not part of CI).

What it does, per group (`shared`: every module of shared/; `core`: the checkpoint store, the
pre-training loop, generation and the SFT evaluation):

1. installs the pinned mutmut (MUTMUT_VERSION) into its own virtual environment under the work
   directory (`--system-site-packages`, so torch, gradio and pytest are the project's own; nothing
   is added to requirements-test.txt);
2. copies the repo's files (tracked and untracked-but-not-ignored: `git ls-files -co
   --exclude-standard`, as they are in the working tree) to `<work>/<group>/repo`, outside the
   repo, so mutmut's `mutants/` folder and its `setup.cfg` never land in it;
3. writes the `[mutmut]` section there: the files to mutate and the fast test files that cover
   them (not the whole suite: mutmut runs, for each mutant, the selected tests that call the
   mutated function), then `mutmut run`;
4. reads every mutant's verdict (and the diff of each one not killed) and writes
   benchmarks/results/mutation.json: per group and per file the counts and the score, the
   command, date, mutmut version, and every survivor — with the reason where it was judged
   equivalent (EQUIVALENT below; a judgement applies only while the mutant's diff still holds
   the quoted change, so an edit to the code never carries a stale judgement over).

Score = (killed + timeout) / (total − equivalent). A timeout is a mutant the tests stopped
(an endless loop); "no tests" and survivors count against the score.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
MUTMUT_VERSION = "3.8.1"
TARGETS = {"shared": 0.85, "core": 0.75}

GROUPS: dict[str, dict] = {
    "shared": {
        "files": [
            "shared/apps.py",
            "shared/gpu.py",
            "shared/inputs.py",
            "shared/limits.py",
            "shared/memory.py",
            "shared/parallel_plan.py",
            "shared/pipeline.py",
            "shared/recurrence.py",
            "shared/scaling.py",
            "shared/scaling_cost.py",
            "shared/scaling_explore.py",
            "shared/scaling_fit.py",
            "shared/scaling_laws.py",
            "shared/ui.py",
        ],
        # every test file that imports shared/ and runs in seconds (test_warm, the apps' files and
        # the browser tests start servers: minutes, and a server's mutants are another process)
        "tests": [
            "tests/test_gpu.py",
            "tests/test_inputs.py",
            "tests/test_limits.py",
            "tests/test_live.py",
            "tests/test_memory_pipeline.py",
            "tests/test_parallel_plan.py",
            "tests/test_tasks_recurrence.py",
            "tests/test_scaling.py",
            "tests/test_scaling_explore.py",
        ],
        "unit_tests": ["tests/test_shared_units.py"],
    },
    "core": {
        "files": [
            "training/store.py",
            "training/manifest.py",
            "training/generate.py",
            "training/sft/evaluate.py",
            "training/pretrain.py",
            "training/resume.py",
            "training/losses.py",
        ],
        # the existing tests of these modules that run in process and in seconds (the rest build
        # checkpoints through the CLI in a subprocess: a minute each, per mutant)
        "tests": [
            "tests/test_hub.py",
            "tests/test_training.py::test_atomic_write_leaves_nothing_on_failure",
            "tests/test_sft.py::test_score_rules",
            "tests/test_sft.py::test_qa_sample_is_deterministic_and_split_pure",
            "tests/test_inference.py::test_kd_loss_is_zero_when_student_equals_teacher_and_checks_its_settings",
        ],
        "unit_tests": ["tests/test_core_units.py"],
        # builds every Space bundle in a subprocess: over its own time limit under mutmut's tracing
        "deselect": ["tests/test_hub.py::test_real_bundles_dry_run"],
    },
}

# Survivors judged equivalent: (mutant name, a line of the mutated code the diff must still hold,
# why no test can tell the mutant from the original). Anything else that survives is reported as
# a survivor without a reason.
_NO_STOP = (
    "stream_completion/respond stop at the first stop id themselves, so generate_ids stopping there too "
    "changes nothing they yield"
)
_CHOICE = "numpy's Generator.choice tests `replace` for truth: None samples without replacement, as False does"
_COLON = (
    "attribute names and mention-bucket labels hold no ':' (training/data/world.py): split(':', 1), "
    "split(':'), split(':', 2) and rsplit give the same second part"
)
_SAFE = (
    "transformers 5 (5.24 here) always writes safetensors: save_pretrained has no safe_serialization "
    "parameter any more (**kwargs swallows it)"
)
_DIM = (
    "the logits are reshaped to 2-D first: dim=+1 is the last dimension, and without a dim torch's "
    "legacy rule picks dim 1 for a 2-D input"
)
_ADAMW = (
    "torch's AdamW keeps every state entry (step included) as a tensor, so the other branch never runs, "
    "and torch.tensor(t) would copy the same values"
)
_T1 = (
    "at t = 1 without recompute the general formula sbh(10 + 24/t + 5as/(ht)) is sbh(34 + 5as/h), the "
    "same number as the branch skipped"
)
_IRFFT = "n is a power of two ≥ 2, so irfft's default output length 2·(n/2 + 1 − 1) is n"
EQUIVALENT: list[tuple[str, str, str]] = (
    [
        (
            "training.store.x_save__mutmut_2",
            'model.save_pretrained(tmp, safe_serialization=None, max_shard_size="7MB")',
            _SAFE,
        ),
        (
            "training.store.x_save__mutmut_5",
            'model.save_pretrained(tmp, max_shard_size="7MB")',
            _SAFE,
        ),
        (
            "training.store.x_save__mutmut_7",
            'model.save_pretrained(tmp, safe_serialization=False, max_shard_size="7MB")',
            _SAFE,
        ),
        (
            "training.generate.x_stream_completion__mutmut_10",
            'ids = tokenizer(prompt, )["input_ids"]',
            "the project's tokenizer (training/tokenizer.py) has no post-processor: "
            "add_special_tokens adds nothing either way",
        ),
        (
            "training.generate.x_stream_completion__mutmut_11",
            'ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]',
            "the project's tokenizer (training/tokenizer.py) has no post-processor: "
            "add_special_tokens adds nothing either way",
        ),
        (
            "training.generate.x_stream_completion__mutmut_31",
            "use_cache=use_cache, seed=seed):",
            _NO_STOP,
        ),
        (
            "training.generate.x_stream_completion__mutmut_34",
            "return",
            "nothing follows the loop in the generator: break and return both end it",
        ),
        (
            "training.sft.evaluate.x_respond__mutmut_12",
            "for tok in generate_ids(model, chat_prompt_ids(tokenizer, messages), max_new_tokens, ):",
            _NO_STOP,
        ),
        (
            "training.sft.evaluate.x_qa_sample__mutmut_20",
            "people = [people[i] for i in np.sort(rng.choice(len(people), size=n_people, replace=None))]",
            _CHOICE,
        ),
        (
            "training.sft.evaluate.x_few_shot_messages__mutmut_21",
            "for a in (ATTRIBUTES[i] for i in rng.choice(len(ATTRIBUTES), size=shots, replace=None)):",
            _CHOICE,
        ),
        (
            "training.sft.evaluate.x_chat_prompt_ids__mutmut_13",
            "return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True,",
            "apply_chat_template's tokenize defaults to True (transformers 5.24)",
        ),
        (
            "training.sft.evaluate.x_chat_prompt_ids__mutmut_15",
            ')["input_ids"])',
            "apply_chat_template's return_dict defaults to True (transformers 5.24)",
        ),
        (
            "training.sft.evaluate.x_score__mutmut_8",
            'first = sentences[0] if sentences else "XXXX"',
            "only an empty response has no sentence; no attribute value of the world (names, dates, cities, majors, "
            "companies) is 'XXXX', so the value is found in neither",
        ),
        (
            "training.generate.x__pick__mutmut_25",
            'logits = logits.masked_fill(logits < kth, float("-INF"))',
            "float() reads infinity case-insensitively: float('-INF') is float('-inf')",
        ),
        (
            "training.store.x_read_results__mutmut_6",
            "p = Path(path) if path else resolve(name, allow_hub=None)",
            "resolve tests allow_hub for truth only: None is False",
        ),
    ]
    + [
        (f"training.losses.x_distill_loss__mutmut_{n}", line, _DIM)
        for n, line in (
            (
                3,
                "s = F.log_softmax(logits.float().reshape(-1, logits.size(-1)) / temperature, dim=None)",
            ),
            (5, "s = F.log_softmax(logits.float().reshape(-1, logits.size(-1)) / temperature, )"),
            (
                16,
                "s = F.log_softmax(logits.float().reshape(-1, logits.size(-1)) / temperature, dim=+1)",
            ),
            (
                20,
                "t = F.log_softmax(teacher_logits.float().reshape(-1, teacher_logits.size(-1)) / "
                "temperature, dim=None)",
            ),
            (
                22,
                "t = F.log_softmax(teacher_logits.float().reshape(-1, teacher_logits.size(-1)) / temperature, )",
            ),
            (
                33,
                "t = F.log_softmax(teacher_logits.float().reshape(-1, teacher_logits.size(-1)) / temperature, dim=+1)",
            ),
        )
    ]
    + [
        (f"training.resume.x_optimizer_to_flat__mutmut_{n}", line, _ADAMW)
        for n, line in (
            (
                3,
                'tensors = {f"{pid}.{k}": (v if (torch.is_tensor(v)) and False else torch.tensor(v)).contiguous()',
            ),
            (
                4,
                'tensors = {f"{pid}.{k}": (v if (torch.is_tensor(v)) or True else torch.tensor(v)).contiguous()',
            ),
            (
                5,
                'tensors = {f"{pid}.{k}": (v if torch.is_tensor(None) else torch.tensor(v)).contiguous()',
            ),
            (
                6,
                'tensors = {f"{pid}.{k}": (v if torch.is_tensor(v) else torch.tensor(None)).contiguous()',
            ),
        )
    ]
    + [
        (
            f"training.resume.x_flat_to_optimizer__mutmut_{n}",
            line,
            "AdamW's state names (step, exp_avg, exp_avg_sq) hold no '.', so the key splits the same way",
        )
        for n, line in (
            (6, 'pid, name = key.split(".", )'),
            (7, 'pid, name = key.rsplit(".", 1)'),
            (9, 'pid, name = key.split(".", 2)'),
        )
    ]
    + [
        (
            "shared.memory.x_activation_bytes_per_layer__mutmut_59",
            'if t == 1 and recompute == "XXnoneXX":',
            _T1,
        ),
        (
            "shared.memory.x_activation_bytes_per_layer__mutmut_60",
            'if t == 1 and recompute == "NONE":',
            _T1,
        ),
        (
            "shared.memory.xǁModelShapeǁlayer_params__mutmut_8",
            "kv = (self.kv_heads or self.heads) * (self.hidden / self.heads)",
            "every shape the lab uses or accepts has heads dividing hidden (breakdown refuses others), so hidden/heads "
            "is the whole head size and the count the same number",
        ),
        (
            "shared.recurrence.x_parallel_scan__mutmut_47",
            'y = np.einsum("TN,TN->T", c, U)',
            "einsum labels are just letters: 'TN,TN->T' is the same contraction as 'tn,tn->t'",
        ),
        (
            "shared.recurrence.x_convolution__mutmut_48",
            "y = np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(K, n), None)[:T]",
            _IRFFT,
        ),
        (
            "shared.recurrence.x_convolution__mutmut_50",
            "y = np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(K, n), )[:T]",
            _IRFFT,
        ),
        (
            "shared.pipeline.x_peak_in_flight__mutmut_15",
            "deltas.sort(key=None)",
            "the key (time, delta) is the tuples' own order: sorting them plainly gives the same order",
        ),
    ]
    + [
        (
            f"shared.ui.x_gantt_figure__mutmut_{n}",
            line,
            "CSS hex colours are case-insensitive: the same colour is drawn",
        )
        for n, line in (
            (
                31,
                'colours = {"F": ["#4f46e5", "#818cf8", "#3730A3", "#a5b4fc"], "B": ["#e11d48", "#fb7185", "#9f1239", "#fda4af"]}',  # noqa: E501 - the mutated line, quoted whole
            ),
            (
                33,
                'colours = {"F": ["#4f46e5", "#818cf8", "#3730a3", "#A5B4FC"], "B": ["#e11d48", "#fb7185", "#9f1239", "#fda4af"]}',  # noqa: E501 - the mutated line, quoted whole
            ),
            (
                41,
                'colours = {"F": ["#4f46e5", "#818cf8", "#3730a3", "#a5b4fc"], "B": ["#e11d48", "#fb7185", "#9F1239", "#fda4af"]}',  # noqa: E501 - the mutated line, quoted whole
            ),
            (
                43,
                'colours = {"F": ["#4f46e5", "#818cf8", "#3730a3", "#a5b4fc"], "B": ["#e11d48", "#fb7185", "#9f1239", "#FDA4AF"]}',  # noqa: E501 - the mutated line, quoted whole
            ),
        )
    ]
    + [
        (f"training.sft.evaluate.x_evaluate_qa__mutmut_{n}", line, _COLON)
        for n, line in (
            (
                88,
                '"by_attribute": {k.split(":", )[1]: rates(v) for k, v in tally.items() if k.startswith("attribute:")},',  # noqa: E501 - the mutated line, quoted whole
            ),
            (
                89,
                '"by_attribute": {k.rsplit(":", 1)[1]: rates(v) for k, v in tally.items() if k.startswith("attribute:")},',  # noqa: E501 - the mutated line, quoted whole
            ),
            (
                91,
                '"by_attribute": {k.split(":", 2)[1]: rates(v) for k, v in tally.items() if k.startswith("attribute:")},',  # noqa: E501 - the mutated line, quoted whole
            ),
            (
                102,
                '"by_bucket": {k.split(":", )[1]: rates(v) for k, v in tally.items() if k.startswith("bucket:")},',
            ),
            (
                103,
                '"by_bucket": {k.rsplit(":", 1)[1]: rates(v) for k, v in tally.items() if k.startswith("bucket:")},',
            ),
            (
                105,
                '"by_bucket": {k.split(":", 2)[1]: rates(v) for k, v in tally.items() if k.startswith("bucket:")},',
            ),
        )
    ]
)

ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "PYTHONDONTWRITEBYTECODE": "1",
    "LAB_WARM_UP": "0",
}

DUMP = r"""
import json, sys
from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files
out = {}
for path in walk_mutatable_files():
    m = SourceFileMutationData(path=path)
    m.load()
    rows = {}
    for key, code in m.exit_code_by_key.items():
        status = status_by_exit_code[code]
        diff = None
        if status not in ("killed", "caught by type check", "not checked"):
            try:
                diff = get_diff_for_mutant(key, path=path)
            except Exception as e:  # noqa: BLE001
                diff = f"(no diff: {type(e).__name__}: {e})"
        rows[key] = {"status": status, "diff": diff}
    out[str(path)] = rows
json.dump(out, sys.stdout)
"""


def _limit_memory() -> None:
    """Each mutant at most MUTATION_MEM_GB (default 8) of address space: a mutant that loops appending
    (a schedule that never ends) fails with MemoryError instead of taking the machine's memory."""
    import resource

    gb = float(os.environ.get("MUTATION_MEM_GB", "8"))
    resource.setrlimit(resource.RLIMIT_AS, (int(gb * 2**30), int(gb * 2**30)))


def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def venv(work: Path) -> Path:
    """A virtual environment with the pinned mutmut (made once, reused)."""
    d = work / f"venv-mutmut-{MUTMUT_VERSION}"
    py = d / "bin" / "python"
    if not py.exists():
        sh([sys.executable, "-m", "venv", "--system-site-packages", str(d)])
    ok = (
        subprocess.run(
            [
                str(py),
                "-c",
                f"import mutmut, sys; sys.exit(mutmut.__version__ != {MUTMUT_VERSION!r})",
            ],
            capture_output=True,
        ).returncode
        == 0
    )
    if not ok:
        sh(
            [
                str(py),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"mutmut=={MUTMUT_VERSION}",
            ]
        )
    return d


def copy_repo(dest: Path) -> None:
    """The working tree's files (tracked, and untracked ones git does not ignore) into `dest`."""
    if dest.exists():
        shutil.rmtree(dest)
    files = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, files):
        src = ROOT / rel
        if not src.is_file():  # deleted in the working tree
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    # a git checkout of its own: manifests record the commit (store.code_version), and tests check it
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "mutation",
        "GIT_AUTHOR_EMAIL": "mutation@localhost",
        "GIT_COMMITTER_NAME": "mutation",
        "GIT_COMMITTER_EMAIL": "mutation@localhost",
    }
    for cmd in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "snapshot for mutmut"],
    ):
        subprocess.run(cmd, cwd=dest, env=env, check=True, capture_output=True)
    (dest / ".git" / "info" / "exclude").write_text("mutants/\nsetup.cfg\n")


def existing(tests: list[str], repo: Path) -> list[str]:
    """The test files / node ids that exist in this copy (another change may have renamed one)."""
    out = []
    for t in tests:
        path, _, name = t.partition("::")
        f = repo / path
        if f.is_file() and (not name or f"def {name}(" in f.read_text()):
            out.append(t)
        else:
            print(f"mutation: {t} not found, left out", file=sys.stderr)
    return out


def write_config(repo: Path, files: list[str], tests: list[str], deselect: list[str] = ()) -> None:
    top = sorted({f.split("/")[0] for f in files} | {"shared", "training"})
    others = sorted(p.name for p in repo.iterdir() if p.name not in top + ["tests", "setup.cfg"])

    def lines(xs):
        return "".join(f"\n    {x}" for x in xs)

    (repo / "setup.cfg").write_text(
        "[mutmut]\n"
        f"source_paths ={lines(top)}\n"
        f"only_mutate ={lines(files)}\n"
        f"also_copy ={lines(others)}\n"
        f"pytest_add_cli_args_test_selection ={lines(tests)}\n"
        "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -W\n    ignore\n"
        + "".join(f"    --deselect\n    {d}\n" for d in deselect)
        + "timeout_multiplier = 10.0\n"
        "timeout_constant = 10.0\n"
    )


def run_group(
    group: str,
    files: list[str],
    work: Path,
    py: Path,
    children: int,
    baseline: bool,
    mutants: list[str],
) -> dict:
    spec = GROUPS[group]
    repo = work / group / "repo"
    copy_repo(repo)
    tests = existing(spec["tests"] + ([] if baseline else spec["unit_tests"]), repo)
    write_config(repo, files, tests, spec.get("deselect", []))
    env = {**os.environ, **ENV}
    env.pop("PYTHONPATH", None)
    t0 = time.time()
    log = work / group / "mutmut.log"
    print(
        f"mutation: {group}: mutating {', '.join(files)} against {len(tests)} test files/ids "
        f"(log: {log})",
        file=sys.stderr,
    )
    with open(log, "w") as f:
        proc = subprocess.run(
            [str(py.parent / "mutmut"), "run", "--max-children", str(children), *mutants],
            cwd=repo,
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
            preexec_fn=_limit_memory,
        )
    seconds = time.time() - t0
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(
            f"mutation: mutmut run failed for {group} (exit {proc.returncode}):\n{tail}"
        )
    dump = subprocess.run(
        [str(py), "-c", DUMP], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return {"verdicts": json.loads(dump.stdout), "seconds": round(seconds, 1), "tests": tests}


def rerun_survivors(group: str, work: Path, py: Path, children: int) -> dict:
    """Retest, in the last run's work directory, the mutants that survived it (or that no test
    reached) against the current tests/test_*_units.py: the rest keep their verdicts (their code
    and the tests that killed them are unchanged)."""
    repo = work / group / "repo"
    if not (repo / "mutants").is_dir():
        raise SystemExit(f"mutation: no previous run of {group} in {repo}; run it whole first")
    env = {**os.environ, **ENV}
    env.pop("PYTHONPATH", None)
    dump = subprocess.run(
        [str(py), "-c", DUMP], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    names = [
        k
        for rows in json.loads(dump.stdout).values()
        for k, r in rows.items()
        if r["status"] in ("survived", "no tests")
    ]
    for f in GROUPS[group]["unit_tests"]:
        for dest in (repo / f, repo / "mutants" / f):
            shutil.copy2(ROOT / f, dest)
    t0 = time.time()
    log = work / group / "mutmut-rerun.log"
    print(f"mutation: {group}: retesting {len(names)} survivors (log: {log})", file=sys.stderr)
    if names:
        with open(log, "w") as fh:
            proc = subprocess.run(
                [str(py.parent / "mutmut"), "run", "--max-children", str(children), *names],
                cwd=repo,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                preexec_fn=_limit_memory,
            )
        if proc.returncode != 0:
            raise SystemExit(
                f"mutation: mutmut rerun failed for {group} (exit {proc.returncode}):\n"
                f"{log.read_text(errors='replace')[-3000:]}"
            )
    dump = subprocess.run(
        [str(py), "-c", DUMP], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return {
        "verdicts": json.loads(dump.stdout),
        "rerun_seconds": round(time.time() - t0, 1),
        "retested": len(names),
    }


def judged(name: str, diff: str | None) -> str | None:
    """The reason a surviving mutant is equivalent, if it was judged so and its diff still matches."""
    added = [
        ln[1:].strip()
        for ln in (diff or "").splitlines()
        if ln.startswith("+") and not ln.startswith("+++")
    ]
    for n, line, reason in EQUIVALENT:
        if n == name and any(line.strip() == a for a in added):
            return reason
    return None


def summarise(verdicts: dict, files: list[str]) -> tuple[dict, dict, list]:
    per_file, survivors = {}, []
    for f in files:
        rows = verdicts.get(f, {})
        c = {
            "killed": 0,
            "survived": 0,
            "timeout": 0,
            "no_tests": 0,
            "other": 0,
            "not_checked": 0,
            "equivalent": 0,
        }
        for name, r in sorted(
            rows.items(), key=lambda kv: (kv[0].rsplit("_", 1)[0], int(kv[0].rsplit("_", 1)[1]))
        ):
            st = r["status"]
            key = {
                "killed": "killed",
                "caught by type check": "killed",
                "survived": "survived",
                "timeout": "timeout",
                "no tests": "no_tests",
                "not checked": "not_checked",
            }.get(st, "other")
            reason = judged(name, r["diff"]) if key in ("survived", "no_tests") else None
            if reason:
                c["equivalent"] += 1
            c[key] += 1
            if key not in ("killed", "timeout", "not_checked"):
                survivors.append(
                    {
                        "mutant": name,
                        "group": group_of(f),
                        "file": f,
                        "status": st,
                        "equivalent": reason,
                        "diff": [
                            ln
                            for ln in (r["diff"] or "").splitlines()
                            if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
                        ],
                    }
                )
        c["total"] = len(rows)
        c["score"] = score(c)
        per_file[f] = c
    tot = {
        k: sum(c[k] for c in per_file.values())
        for k in (
            "killed",
            "survived",
            "timeout",
            "no_tests",
            "other",
            "not_checked",
            "equivalent",
            "total",
        )
    }
    tot["score"] = score(tot)
    return tot, per_file, survivors


def group_of(path: str) -> str:
    return next(g for g, spec in GROUPS.items() if path in spec["files"])


def score(c: dict) -> float | None:
    denom = (
        c["total"] - c["equivalent"] - c.get("not_checked", 0)
    )  # a run cut short: what it checked
    return round((c["killed"] + c["timeout"]) / denom, 4) if denom else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--group", choices=[*GROUPS, "all"], default="all")
    ap.add_argument(
        "--files",
        nargs="+",
        help="mutate only these files (of the groups); writes mutation.quick.json",
    )
    ap.add_argument(
        "--mutants", nargs="+", default=[], help="only these mutant names (mutmut's), quick"
    )
    ap.add_argument(
        "--baseline",
        action="store_true",
        help="without the tests written for this run (tests/test_*_units.py): the score before them",
    )
    ap.add_argument(
        "--work",
        type=Path,
        default=Path(os.environ.get("MUTATION_WORK", Path(tempfile.gettempdir()) / "lab-mutation")),
        help="scratch directory (outside the repo)",
    )
    ap.add_argument("--children", type=int, default=int(os.environ.get("MUTATION_CHILDREN", "2")))
    ap.add_argument(
        "--rerun-survivors",
        action="store_true",
        help="retest only the last run's survivors against the current unit tests, then rewrite the record",
    )
    ap.add_argument(
        "--report-only", action="store_true", help="rewrite the record from the last run's verdicts"
    )
    ap.add_argument(
        "--out", type=Path, help="default benchmarks/results/mutation[.quick|.baseline].json"
    )
    a = ap.parse_args(argv)
    work = a.work.resolve()
    if work == ROOT or ROOT in work.parents:
        ap.error(f"--work must be outside the repo ({ROOT})")
    work.mkdir(parents=True, exist_ok=True)
    groups = list(GROUPS) if a.group == "all" else [a.group]
    partial = bool(a.files or a.mutants)  # one whole group is merged into the record of both
    py = venv(work) / "bin" / "python"
    t0 = time.time()
    out = {
        "command": "bash benchmarks/mutation.sh "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "tool": f"mutmut {MUTMUT_VERSION}",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "children": a.children,
        "score_definition": "(killed + timeout) / (total - equivalent - not_checked); survivors and "
        "mutants no selected test reaches count against it; not_checked > 0 only "
        "when a run was cut short",
        "targets": TARGETS,
        "baseline": a.baseline,
        "groups": {},
        "survivors": [],
    }
    for g in groups:
        files = [f for f in GROUPS[g]["files"] if not a.files or f in a.files]
        if not files:
            continue
        if a.rerun_survivors or a.report_only:
            prev = (
                json.loads((RESULTS / "mutation.json").read_text())["groups"].get(g, {})
                if (RESULTS / "mutation.json").is_file()
                else {}
            )
            if a.report_only:
                env = {**os.environ, **ENV}
                env.pop("PYTHONPATH", None)
                dump = subprocess.run(
                    [str(py), "-c", DUMP],
                    cwd=work / g / "repo",
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                r = {"verdicts": json.loads(dump.stdout)}
            else:
                r = rerun_survivors(g, work, py, a.children)
            r = {
                **r,
                "seconds": prev.get("seconds", 0),
                "tests": prev.get("tests", []),
                **(
                    {
                        "first_run": {
                            k: prev.get(k)
                            for k in (
                                "killed",
                                "timeout",
                                "survived",
                                "no_tests",
                                "total",
                                "score",
                                "command",
                                "date",
                            )
                        }
                    }
                    if prev
                    else {}
                ),
            }
        else:
            r = run_group(g, files, work, py, a.children, a.baseline, a.mutants)
        tot, per_file, survivors = summarise(r["verdicts"], files)
        out["groups"][g] = {
            **tot,
            "target": TARGETS[g],
            "met": (tot["score"] or 0) >= TARGETS[g],
            "seconds": r["seconds"],
            "command": out["command"],
            "date": out["date"],
            "tests": r["tests"],
            "files": per_file,
            **{k: r[k] for k in ("first_run", "retested", "rerun_seconds") if k in r},
        }
        out["survivors"] += survivors
        print(
            f"mutation: {g}: {tot['killed']} killed, {tot['timeout']} timeout, {tot['survived']} survived "
            f"({tot['equivalent']} equivalent), {tot['no_tests']} no tests, {tot['not_checked']} not checked, "
            f"of {tot['total']}: score "
            f"{tot['score']} (target {TARGETS[g]}) in {r['seconds']:.0f} s",
            file=sys.stderr,
        )
        for f, c in per_file.items():
            print(
                f"    {f}: {c['score']} ({c['killed'] + c['timeout']}/{c['total'] - c['equivalent'] - c['not_checked']}"
                + (f"; {c['not_checked']} not checked" if c["not_checked"] else "")
                + ")",
                file=sys.stderr,
            )
    out["seconds"] = round(time.time() - t0, 1)
    name = "mutation" + (".baseline" if a.baseline else ".quick" if partial else "") + ".json"
    dest = a.out or RESULTS / name
    if not partial and dest.is_file():  # a run of one group keeps the other group's last record
        try:
            old = json.loads(dest.read_text())
        except json.JSONDecodeError:
            old = {}
        kept = {g: v for g, v in old.get("groups", {}).items() if g not in out["groups"]}
        out["groups"] = {
            g: (kept.get(g) or out["groups"][g]) for g in GROUPS if g in kept or g in out["groups"]
        }
        out["survivors"] = [s for s in old.get("survivors", []) if s.get("group") in kept] + out[
            "survivors"
        ]
        out["seconds"] = round(sum(v.get("seconds", 0) for v in out["groups"].values()), 1)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"mutation: wrote {dest}", file=sys.stderr)
    return 0 if all(g["met"] for g in out["groups"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
