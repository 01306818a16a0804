"""Load, measured: the suite served by `python app.py` under many simultaneous users.

Starts the suite exactly as a user does (`python app.py`, a free port, the bundled checkpoints),
then, each user a thread with its own `gradio_client.Client` (its own session):

- Phase A, mixed load: `--clients` users (16) each send `--requests` requests (10) back to back,
  no think time: analytic views of the Scaling Laws Explorer, the Parallelism Visualizer and the
  RNN / SSM / Transformer app (/laws /optimal /memory /zero /pipeline /state_table /cost, at their
  defaults as `view_api` lists them; /memory with the Llama 2 7B shape that /preset returns)
  interleaved with base-model completions (/complete, greedy, 32 new tokens; every third request).
  Per request: endpoint, latency (submit -> final result), time to the first streamed token for
  completions, and success or the error. Summaries: p50/p95 per class and per endpoint, failures.
- Phase B, a burst: `--burst` completions (40) submitted at the same instant (a barrier) by as
  many users, `--bursts` times (3). The suite's queue holds `max_size` waiting events (32) and
  /complete runs `concurrency_limit` (2) at a time, so part of a burst can be refused: recorded
  are what such a client gets (exception type and text, and the HTTP reply of the server), how
  many succeeded, their p50/p95 latency and the time from the burst to the last answer (drain);
  and a bystander who opens /laws 0.5 s into the burst (the queue is shared by every event).

Every request also records when its POST to the queue left the client (`post_sent_s`, time spent
inside gradio_client) and how long the server took to answer that POST (`join_answer_s`).

Before phase A, each prompt is completed once alone (the first call loads the model: recorded as
warm-up) and every analytic endpoint is called once; every greedy completion under load must equal
that reference (`completions_identical`). The queue and concurrency limits are read from the code
(the suite built in a subprocess: `demo._queue.max_size`, each event's `concurrency_limit`), since
/config does not publish them. The server's own CPU is measured apart (from /proc), so
`other_cores` is what processes other than the benchmark and the server used.

    python benchmarks/load.py            # 16 users x 10 requests, 3 bursts of 40 (~1-2 min)
    python benchmarks/load.py --quick    # 4 users x 4 requests, 1 burst of 40
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import threading
import time
import warnings

from common import BASE_CHECKPOINT, ROOT, group_cpu_seconds, serve_suite, wait_quiet, write

from training.quiet import _cpu_seconds

ANALYTIC = ["/laws", "/optimal", "/memory", "/zero", "/pipeline", "/state_table", "/cost"]
COMPLETE = "/complete"
BYSTANDER = "/laws"  # phase B: an analytic view opened by another user while the burst is queued
MEMORY_SHAPE = [
    "layers",
    "hidden",
    "heads",
    "kv_heads",
    "vocab",
    "seq",
    "ffn",
    "gated",
    "tied",
]  # /preset's outputs
NEW_TOKENS = 32
POLL_S = 0.02  # how often a completion's streamed text is looked at (--poll-ms; 0: no time to first token)
REQUEST_TIMEOUT_S = 180.0  # /complete's time_limit is 120 s: anything past this is a hang

LIMITS_CODE = """
import json, sys
sys.path.insert(0, '.')
import app
demo = app.build_suite()
q = demo._queue
fns = demo.fns.values() if isinstance(demo.fns, dict) else demo.fns
events = {}
for f in fns:
    if f.api_name and getattr(f, 'api_visibility', 'public') == 'public':
        lim, cid = f.concurrency_limit, f.concurrency_id
        events[f.api_name] = {"concurrency_limit": q.default_concurrency_limit if lim == "default" else lim,
                              "concurrency_id": cid if isinstance(cid, str) and not cid.isdigit() else None,
                              "limit_is_default": lim == "default", "time_limit": f.time_limit}
print("LIMITS" + json.dumps({"queue_max_size": q.max_size, "default_concurrency_limit": q.default_concurrency_limit,
                             "events": events}))
"""


# ---------------------------------------------------------------- small helpers
def pct(xs: list[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear between order statistics (numpy's default)."""
    if not xs:
        return None
    s = sorted(xs)
    k = (len(s) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def stats(recs: list[dict]) -> dict:
    ok = [r for r in recs if r["ok"]]
    lat = [r["latency_s"] for r in ok]
    out = {
        "n": len(recs),
        "ok": len(ok),
        "failed": len(recs) - len(ok),
        "p50_s": _r(pct(lat, 50)),
        "p95_s": _r(pct(lat, 95)),
        "max_s": _r(max(lat, default=None)),
        "mean_s": _r(sum(lat) / len(lat) if lat else None),
    }
    ttft = [r["ttft_s"] for r in ok if r.get("ttft_s") is not None]
    sent = [r["post_sent_s"] for r in ok if r.get("post_sent_s") is not None]
    if (
        sent
    ):  # client-side: submit -> the POST to the queue leaves; and from that POST to the result
        after = [r["latency_s"] - r["post_sent_s"] for r in ok if r.get("post_sent_s") is not None]
        out.update(
            post_sent_p50_s=_r(pct(sent, 50)),
            post_sent_p95_s=_r(pct(sent, 95)),
            from_post_p50_s=_r(pct(after, 50)),
            from_post_p95_s=_r(pct(after, 95)),
        )
    if ttft:
        out.update(ttft_p50_s=_r(pct(ttft, 50)), ttft_p95_s=_r(pct(ttft, 95)))
    return out


def _r(x, nd=4):
    return None if x is None else round(x, nd)


def limits_from_code() -> dict:
    """Build the suite in a subprocess (not launched) and read its queue and per-event limits."""
    import json

    p = subprocess.run(
        [sys.executable, "-c", LIMITS_CODE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("LIMITS")), None)
    if line is None:
        raise RuntimeError(f"could not read the limits (exit {p.returncode}):\n{p.stderr[-2000:]}")
    return json.loads(line[len("LIMITS") :])


def config_facts(url: str) -> dict:
    """What the running server's /config says about its queue (it does not publish limits)."""
    import json
    import urllib.request

    with urllib.request.urlopen(url + "config", timeout=10) as r:
        cfg = json.load(r)
    dep = next((d for d in cfg.get("dependencies", []) if d.get("api_name") == "complete"), {})
    return {
        "gradio": cfg.get("version"),
        "protocol": cfg.get("protocol"),
        "enable_queue": cfg.get("enable_queue"),
        "max_size_in_config": cfg.get("max_size"),
        "complete_in_config": {
            k: dep.get(k) for k in ("queue", "concurrency_limit", "concurrency_id", "time_limit")
        },
    }


class Joins:
    """Every POST the clients make to join the queue (.../queue/join): when it left, when the server
    answered, the status and (for a 503) the body. gradio_client turns a 503 into
    `QueueError("Queue is full! Please try again.")` and drops the server's text, and the time a
    client spends before its POST is its own, not the server's: httpx.post is wrapped to see both."""

    def __init__(self):
        self.lock, self.rows = threading.Lock(), []

    def install(self) -> None:
        import httpx

        orig = httpx.post

        def post(url, *a, **kw):
            t0 = time.perf_counter()
            resp = orig(url, *a, **kw)
            if "queue/join" in str(url):
                row = {
                    "session": (kw.get("json") or {}).get("session_hash"),
                    "t0": t0,
                    "t1": time.perf_counter(),
                    "status": resp.status_code,
                    "body": resp.text[:300] if resp.status_code != 200 else None,
                }
                with self.lock:
                    self.rows.append(row)
            return resp

        httpx.post = post

    def find(self, session: str, after: float) -> dict | None:
        with self.lock:
            return next(
                (r for r in self.rows if r["session"] == session and r["t0"] >= after), None
            )

    def since(self, after: float) -> list[dict]:
        with self.lock:
            return [r for r in self.rows if r["t0"] >= after]


JOINS = Joins()


def server_cpu(pid: int) -> float:
    try:
        return group_cpu_seconds(pid)
    except OSError:
        return 0.0


class Cores:
    """Cores used during a block by: this process (the clients), the server, and everything else."""

    def __init__(self, server_pid: int):
        self.pid = server_pid

    def __enter__(self):
        self.t0, self.busy0, self.srv0 = (
            time.perf_counter(),
            _cpu_seconds()[0],
            server_cpu(self.pid),
        )
        t = os.times()
        self.me0 = t.user + t.system
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.t0
        t = os.times()
        busy, srv, me = (
            _cpu_seconds()[0] - self.busy0,
            server_cpu(self.pid) - self.srv0,
            t.user + t.system - self.me0,
        )
        self.result = {
            "wall_s": round(wall, 2),
            "server_cores": round(srv / wall, 2),
            "client_cores": round(me / wall, 2),
            "other_cores": round(max(0.0, busy - srv - me) / wall, 2),
        }
        return False


# ---------------------------------------------------------------- one request
def call(client, endpoint: str, args: list, t_ref: float, streamed: bool) -> dict:
    """Submit one request and wait for its result; never raises."""
    rec = {"endpoint": endpoint, "class": "completion" if endpoint == COMPLETE else "analytic"}
    t0 = time.perf_counter()
    rec["t_submit_s"] = round(t0 - t_ref, 4)
    first = None
    try:
        job = client.submit(*args, api_name=endpoint)
        if streamed and POLL_S:  # the time of the first non-empty streamed text = first token
            while not job.done():
                if first is None:
                    outs = job.outputs()
                    if outs and outs[-1]:
                        first = time.perf_counter()
                if time.perf_counter() - t0 > REQUEST_TIMEOUT_S:
                    raise TimeoutError(f"no result within {REQUEST_TIMEOUT_S:.0f} s")
                time.sleep(POLL_S)
        result = job.result(timeout=max(1.0, REQUEST_TIMEOUT_S - (time.perf_counter() - t0)))
        t1 = time.perf_counter()
        _join_facts(rec, client, t0)
        rec.update(ok=True, latency_s=round(t1 - t0, 4))
        if streamed:
            if POLL_S:
                rec["ttft_s"] = round((first or t1) - t0, 4)
            rec["output"] = result
            if not (isinstance(result, str) and result.strip()):
                rec.update(
                    ok=False, error_type="EmptyCompletion", error=f"completion was {result!r}"
                )
    except Exception as e:  # noqa: BLE001 - every failure is a sample
        _join_facts(rec, client, t0)
        rec.update(
            ok=False,
            latency_s=round(time.perf_counter() - t0, 4),
            error_type=type(e).__name__,
            error=re.sub(r"\s+", " ", str(e))[:500],
        )
    rec["t_end_s"] = round(time.perf_counter() - t_ref, 4)
    return rec


def _join_facts(rec: dict, client, t0: float) -> None:
    """When this request's POST to the queue left (after submit) and how long the server took to answer it."""
    j = JOINS.find(getattr(client, "session_hash", None), t0)
    if j:
        rec.update(
            post_sent_s=round(j["t0"] - t0, 4),
            join_answer_s=round(j["t1"] - j["t0"], 4),
            join_status=j["status"],
        )


def make_clients(url: str, n: int) -> list:
    from gradio_client import Client

    return [Client(url, verbose=False) for _ in range(n)]


def close_clients(clients: list) -> None:
    for c in clients:
        try:
            c.close()
        except Exception:  # noqa: BLE001
            pass


def run_threads(targets: list) -> None:
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(REQUEST_TIMEOUT_S * 12)


# ---------------------------------------------------------------- the phases
def phase_a(
    url: str, n_clients: int, n_requests: int, args_of: dict, prompts: list[str], server_pid: int
):
    clients = make_clients(url, n_clients)
    barrier = threading.Barrier(n_clients)
    recs: list[dict] = []
    lock = threading.Lock()
    t_ref = [0.0]

    def user(c: int):
        def run():
            barrier.wait()
            k = c
            for j in range(n_requests):
                if j % 3 == 2:
                    ep, a = COMPLETE, [prompts[(c + j) % len(prompts)], *args_of[COMPLETE]]
                else:
                    ep = ANALYTIC[k % len(ANALYTIC)]
                    a, k = args_of[ep], k + 1
                rec = call(clients[c], ep, a, t_ref[0], ep == COMPLETE)
                rec.update(client=c, seq=j)
                if ep == COMPLETE:
                    rec["prompt"] = a[0]
                with lock:
                    recs.append(rec)

        return run

    t_ref[0] = time.perf_counter()
    with Cores(server_pid) as cores:
        run_threads([user(c) for c in range(n_clients)])
    close_clients(clients)
    recs.sort(key=lambda r: (r["client"], r["seq"]))
    return recs, cores.result


def phase_b(url: str, n: int, args_of: dict, prompts: list[str], server_pid: int):
    clients = make_clients(url, n)
    barrier = threading.Barrier(n + 1)
    recs: list[dict] = []
    lock = threading.Lock()
    t_ref = [0.0]

    def user(c: int):
        def run():
            barrier.wait()
            rec = call(
                clients[c],
                COMPLETE,
                [prompts[c % len(prompts)], *args_of[COMPLETE]],
                t_ref[0],
                True,
            )
            rec.update(client=c, prompt=prompts[c % len(prompts)])
            with lock:
                recs.append(rec)

        return run

    def bystander():  # one more user, 0.5 s into the burst, opens an analytic view (another event)
        time.sleep(0.5)
        rec = call(clients[n], BYSTANDER, args_of[BYSTANDER], t_ref[0], False)
        with lock:
            extra.append(rec)

    clients += make_clients(url, 1)
    extra: list[dict] = []
    threads = [threading.Thread(target=user(c), daemon=True) for c in range(n)]
    for t in threads:
        t.start()
    with Cores(server_pid) as cores:
        t_ref[0] = time.perf_counter()
        barrier.wait()  # all n submit at once
        by = threading.Thread(target=bystander, daemon=True)
        by.start()
        for t in [*threads, by]:
            t.join(REQUEST_TIMEOUT_S * 2)
    close_clients(clients)
    sessions = {c.session_hash for c in clients[:n]}  # the burst's, not the bystander's
    got = [j for j in JOINS.since(t_ref[0]) if j["status"] == 503 and j["session"] in sessions]
    recs.sort(key=lambda r: r["client"])
    ok = [r for r in recs if r["ok"]]
    errors = collections.Counter(f"{r['error_type']}: {r['error']}" for r in recs if not r["ok"])
    submits = [r["t_submit_s"] for r in recs]
    summary = {
        "submitted": n,
        "succeeded": len(ok),
        "refused_queue_full": sum(r.get("error_type") == "QueueError" for r in recs),
        "other_failures": sum(not r["ok"] and r.get("error_type") != "QueueError" for r in recs),
        "errors_seen_by_clients": dict(errors),
        "server_http_503_replies": dict(collections.Counter(j["body"] for j in got)),
        "server_503_sent_after_s": sorted(_r(j["t0"] - t_ref[0]) for j in got),
        "server_503_received_after_s": sorted(_r(j["t1"] - t_ref[0]) for j in got),
        "join_posts_sent_after_s": {
            "p50": _r(
                pct([r["post_sent_s"] + r["t_submit_s"] for r in recs if "post_sent_s" in r], 50)
            ),
            "max": _r(
                max(
                    (r["post_sent_s"] + r["t_submit_s"] for r in recs if "post_sent_s" in r),
                    default=None,
                )
            ),
        },
        "bystander": extra[0] if extra else None,
        "success_latency": stats(ok),
        "refused_latency_max_s": _r(
            max((r["latency_s"] for r in recs if not r["ok"]), default=None)
        ),
        "submit_spread_s": _r(max(submits) - min(submits)) if submits else None,
        "drain_s": _r(max((r["t_end_s"] for r in recs), default=0.0)),
        "cores": cores.result,
    }
    return recs, summary


# ---------------------------------------------------------------- main
def endpoint_args(client) -> dict:
    """Positional args per endpoint: the defaults view_api lists; /memory's model shape from /preset."""
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    shape = dict(zip(MEMORY_SHAPE, client.predict("Llama 2 7B", api_name="/preset")))
    out = {}
    for ep in [*ANALYTIC, COMPLETE]:
        if ep not in api:
            raise RuntimeError(f"the suite has no {ep} endpoint (has: {', '.join(sorted(api))})")
        vals = []
        for p in api[ep]["parameters"]:
            name = p["parameter_name"]
            if ep == "/memory" and name in shape:
                vals.append(shape[name])
            elif ep == COMPLETE and name == "prompt":
                continue  # per request
            elif ep == COMPLETE and name == "max_new_tokens":
                vals.append(NEW_TOKENS)
            elif ep == COMPLETE and name == "temperature":
                vals.append(0.0)  # greedy: every answer can be checked against the reference
            elif p.get("parameter_has_default"):
                vals.append(p["parameter_default"])
            else:
                raise RuntimeError(f"{ep}: no value for its required parameter {name!r}")
        out[ep] = vals
    return out


def prompts_from_manifest() -> list[str]:
    import json

    try:
        ex = json.loads((BASE_CHECKPOINT / "manifest.json").read_text()).get("examples") or []
    except OSError:
        ex = []
    found = [e["prompt"] for e in ex if isinstance(e, dict) and e.get("prompt")]
    return (found + ["He was born in", "She studied", "After university, she worked for"])[:4]


def log_problems(text: str) -> dict:
    tracebacks = [
        text[m.start() : m.start() + 1500]
        for m in re.finditer(r"Traceback \(most recent call last\)", text)
    ]
    error_lines = [
        ln for ln in text.splitlines() if re.search(r"\b(ERROR|Error|Exception|Warning)\b", ln)
    ]
    return {
        "tracebacks": len(re.findall(r"Traceback \(most recent call last\)", text)),
        "traceback_excerpts": tracebacks[:5],
        "error_or_warning_lines": error_lines[:40],
        "log_lines": len(text.splitlines()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 users x 4 requests, one burst")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=10, help="requests per user in phase A")
    ap.add_argument(
        "--burst", type=int, default=40, help="completions submitted at once in phase B"
    )
    ap.add_argument("--bursts", type=int, default=3)
    ap.add_argument(
        "--max-wait", type=float, default=300.0, help="seconds to wait for a quiet machine"
    )
    ap.add_argument(
        "--poll-ms",
        type=float,
        default=20.0,
        help="look at a completion's streamed text this often, for its time to first token (0: off)",
    )
    args = ap.parse_args()
    global POLL_S
    POLL_S = args.poll_ms / 1000
    if args.quick:
        args.clients, args.requests, args.bursts = 4, 4, 1
    warnings.filterwarnings("ignore")

    print("reading the queue and concurrency limits from the code ...", flush=True)
    limits = limits_from_code()
    load_start = [round(x, 2) for x in os.getloadavg()]
    waited = wait_quiet(args.max_wait)
    JOINS.install()
    t_all = time.perf_counter()
    # exactly as on a fresh clone: the bundled base and SFT checkpoints
    with serve_suite({"LAB_BASE_CHECKPOINT": None, "LAB_SFT_CHECKPOINT": None}) as srv:
        print(f"suite up on {srv.url} after {srv.startup_s:.2f} s", flush=True)
        cfg = config_facts(srv.url)
        (probe,) = make_clients(srv.url, 1)
        args_of = endpoint_args(probe)
        prompts = prompts_from_manifest()
        warm = []
        reference = {}
        for p in prompts:  # alone, in order: the first loads the model
            r = call(probe, COMPLETE, [p, *args_of[COMPLETE]], time.perf_counter(), True)
            warm.append(r)
            reference[p] = r.get("output")
        for ep in ANALYTIC:
            warm.append(call(probe, ep, args_of[ep], time.perf_counter(), False))
        close_clients([probe])
        for r in warm:
            print(
                f"warm-up {r['endpoint']}: {r['latency_s']:.3f} s"
                + ("" if r["ok"] else f"  FAILED {r['error']}"),
                flush=True,
            )

        print(f"phase A: {args.clients} users x {args.requests} requests ...", flush=True)
        recs_a, cores_a = phase_a(srv.url, args.clients, args.requests, args_of, prompts, srv.pid)
        bursts = []
        for b in range(args.bursts):
            time.sleep(1.0)
            print(
                f"phase B: burst {b + 1}/{args.bursts} of {args.burst} completions ...", flush=True
            )
            recs_b, summ = phase_b(srv.url, args.burst, args_of, prompts, srv.pid)
            bursts.append({"summary": summ, "samples": recs_b})
        import urllib.request

        with urllib.request.urlopen(
            srv.url, timeout=10
        ) as r:  # does it still answer after all this?
            still_up = r.status == 200
        pid = srv.pid
        log_text = srv.log_text()  # the log lives only as long as the server
    problems = log_problems(log_text)
    total_s = time.perf_counter() - t_all

    # -------- summaries
    by_class = {
        c: stats([r for r in recs_a if r["class"] == c]) for c in ("analytic", "completion")
    }
    # each user's first two requests meet all the others' at once (16 fresh sessions): apart
    by_class_from_3rd = {
        c: stats([r for r in recs_a if r["class"] == c and r["seq"] >= 2])
        for c in ("analytic", "completion")
    }
    by_endpoint = {
        ep: stats([r for r in recs_a if r["endpoint"] == ep]) for ep in [*ANALYTIC, COMPLETE]
    }
    fails_a = [r for r in recs_a if not r["ok"]]
    wall_a = max((r["t_end_s"] for r in recs_a), default=0.0)
    all_b = [r for b in bursts for r in b["samples"]]
    ok_b = [r for r in all_b if r["ok"]]
    completions = [r for r in recs_a + all_b if r["ok"] and r["endpoint"] == COMPLETE]
    mismatched = [
        r
        for r in completions
        if reference.get(r["prompt"]) is not None and r["output"] != reference[r["prompt"]]
    ]
    capacity = limits["queue_max_size"] + limits["events"]["complete"]["concurrency_limit"]
    phase_b_all = {
        "bursts": len(bursts),
        "submitted": len(all_b),
        "succeeded": len(ok_b),
        "refused_queue_full": sum(b["summary"]["refused_queue_full"] for b in bursts),
        "other_failures": sum(b["summary"]["other_failures"] for b in bursts),
        "succeeded_per_burst": [b["summary"]["succeeded"] for b in bursts],
        "drain_s_per_burst": [b["summary"]["drain_s"] for b in bursts],
        "success_latency": stats(ok_b),
        "expected_capacity": f"{capacity} = queue max_size {limits['queue_max_size']} waiting + "
        f"/complete concurrency_limit {limits['events']['complete']['concurrency_limit']} running",
    }
    body = {
        "what": "the suite (`python app.py`, bundled checkpoints) under concurrent gradio_client users: "
        "phase A mixed analytic views + completions, phase B a burst of simultaneous completions",
        "settings": {
            "clients": args.clients,
            "requests_per_client": args.requests,
            "burst": args.burst,
            "bursts": args.bursts,
            "new_tokens": NEW_TOKENS,
            "temperature": 0.0,
            "analytic_endpoints": ANALYTIC,
            "args": args_of,
            "prompts": prompts,
            "request_timeout_s": REQUEST_TIMEOUT_S,
            "think_time_s": 0,
            "ttft_poll_s": POLL_S,
        },
        "limits_from_code": limits,
        "config": cfg,
        "startup_s": round(srv.startup_s, 3),
        "warmup": warm,
        "phase_a": {
            "by_class": by_class,
            "by_class_from_3rd_request": by_class_from_3rd,
            "by_endpoint": by_endpoint,
            "failures": len(fails_a),
            "failure_samples": fails_a,
            "wall_s": _r(wall_a),
            "requests_per_s": _r(len(recs_a) / wall_a if wall_a else None, 2),
            "cores": cores_a,
            "samples": recs_a,
        },
        "phase_b": {"overall": phase_b_all, "per_burst": bursts},
        "completions_identical": {
            "checked": len(completions),
            "mismatched": len(mismatched),
            "examples": [
                {"prompt": r["prompt"], "got": r["output"], "reference": reference[r["prompt"]]}
                for r in mismatched[:3]
            ],
        },
        "server": {
            "pid": pid,
            "answered_after_load": still_up,
            "log": problems,
            "log_tail": log_text[-3000:],
        },
        "machine_busy": {
            "waited_for_quiet_s": round(waited, 1),
            "loadavg_1_5_15_at_start": load_start,
            "phase_a_cores": cores_a,
            "phase_b_cores": [b["summary"]["cores"] for b in bursts],
        },
        "total_s": round(total_s, 1),
        "met": not fails_a and phase_b_all["other_failures"] == 0 and not mismatched and still_up,
    }

    # -------- human summary
    def row(name, s):
        def f(x):
            return "-" if x is None else f"{1000 * x:8.0f}"

        extra = (
            f"  ttft p50 {f(s.get('ttft_p50_s'))} p95 {f(s.get('ttft_p95_s'))}"
            if "ttft_p50_s" in s
            else ""
        )
        extra += (
            f"  POST sent p50 {f(s.get('post_sent_p50_s'))} p95 {f(s.get('post_sent_p95_s'))}"
            if "post_sent_p50_s" in s
            else ""
        )
        print(
            f"  {name:<14} n={s['n']:<4} ok={s['ok']:<4} p50 {f(s['p50_s'])} ms  p95 "
            f"{f(s['p95_s'])} ms  max {f(s['max_s'])} ms{extra}"
        )

    print(
        f"\nlimits (code): queue max_size {limits['queue_max_size']}, /complete concurrency_limit "
        f"{limits['events']['complete']['concurrency_limit']}, analytic events "
        f"{limits['events']['laws']['concurrency_limit']} each (gradio default)"
    )
    print(
        f"phase A: {len(recs_a)} requests in {wall_a:.1f} s, {len(fails_a)} failed; cores {cores_a}"
    )
    for c, s in by_class.items():
        row(c, s)
    for ep, s in by_endpoint.items():
        row(ep, s)
    for c, s in by_class_from_3rd.items():
        row(f"{c[:10]} 3rd+", s)
    for i, b in enumerate(bursts):
        s = b["summary"]
        print(
            f"phase B burst {i + 1}: {s['succeeded']}/{s['submitted']} ok, {s['refused_queue_full']} refused, "
            f"{s['other_failures']} other failures, drain {s['drain_s']:.1f} s, submit spread "
            f"{s['submit_spread_s']:.3f} s"
        )
        row("  successes", s["success_latency"])
        for e, n in s["errors_seen_by_clients"].items():
            print(f"    client saw ({n}x): {e}")
        for e, n in s["server_http_503_replies"].items():
            print(f"    server HTTP 503 ({n}x): {e}")
        if s["server_503_sent_after_s"]:
            print(
                "    503 POSTs sent "
                f"{min(s['server_503_sent_after_s']):.2f}-{max(s['server_503_sent_after_s']):.2f} s, "
                "answered "
                f"{min(s['server_503_received_after_s']):.2f}-"
                f"{max(s['server_503_received_after_s']):.2f} s after the burst"
            )
        by = s["bystander"]
        if by:
            print(
                f"    bystander {by['endpoint']} at {by['t_submit_s']:.2f} s: "
                + (
                    f"ok in {by['latency_s']:.2f} s"
                    if by["ok"]
                    else f"{by['error_type']}: {by['error']} after {by['latency_s']:.2f} s"
                )
            )
    print(
        f"completions identical to the sequential reference: {len(completions) - len(mismatched)}/{len(completions)}"
    )
    print(
        f"server log: {problems['tracebacks']} tracebacks; still answering after the load: {still_up}"
    )
    print(
        f"load average at start {load_start}, at end {[round(x, 2) for x in os.getloadavg()]}; total {total_s:.0f} s"
    )
    write("load", body, quick=args.quick)
    sys.exit(0 if body["met"] else 1)


if __name__ == "__main__":
    main()
