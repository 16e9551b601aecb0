#!/usr/bin/env python3
"""Soak load for `bench/soak.sh`: many live legacy sessions and many modern clients against one
Switchboard server for a long while, sampling the server's memory.

What it does, in order:

1. opens SOAK_LEGACY legacy sessions (`initialize` + `notifications/initialized`; revisions
   2025-11-25, 2025-06-18 and 2025-03-26 in turn) over a pool of keep-alive connections;
2. for SOAK_SECS seconds keeps every one of them alive by calling tools on them round-robin at
   SOAK_LEGACY_RPS calls/s in total (open loop), while SOAK_MODERN modern (2026-07-28, stateless)
   clients, each with its own keep-alive connection, call at SOAK_MODERN_RPS calls/s in total;
3. samples the server's VmRSS (/proc/<pid>/status) every SOAK_SAMPLE seconds;
4. DELETEs every session and samples once more (SOAK_DELETE=0 skips it).

Every reply is checked (id, no JSON-RPC error, no isError, the echo's text equal to what was
sent, progress notifications present on SSE answers). Errors are counted by kind: `http <status>`,
`rpc <code>`, `tool error`, `wrong result`, `transport <exception>`, `timeout`. The only errors
the script provokes on purpose are a call to an unknown session id every SOAK_PROVOKE_EVERY-th
legacy call (must be 404) and a call of `test_error_handling` every SOAK_PROVOKE_EVERY-th modern
call (must be an isError result); they are counted apart, and one that does not fail as it
should is an unexpected error.

Plateau rule: split the soak window's samples into thirds by time; the RSS plateaus when the
highest sample of the last third is at most 10 % (SOAK_PLATEAU_PCT) above the highest of the
middle third. The exit status is 0 only with no unexpected error and a plateau.

Needs aiohttp (bench/soak.sh installs it in a venv). Arguments: the MCP URL, the server's pid,
the results file.
"""

import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict

import aiohttp

URL, PID, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
env = os.environ.get
SECS = float(env("SOAK_SECS", "600"))
SAMPLE = float(env("SOAK_SAMPLE", "10"))
N_LEGACY = int(env("SOAK_LEGACY", "10000"))
N_MODERN = int(env("SOAK_MODERN", "1000"))
LEGACY_RPS = float(env("SOAK_LEGACY_RPS", "200"))
MODERN_RPS = float(env("SOAK_MODERN_RPS", "200"))
LEGACY_CONNS = int(env("SOAK_LEGACY_CONNS", "256"))
OPEN_CONCURRENCY = int(env("SOAK_OPEN_CONCURRENCY", "64"))
PROVOKE_EVERY = int(env("SOAK_PROVOKE_EVERY", "500"))
PLATEAU_PCT = float(env("SOAK_PLATEAU_PCT", "10"))
TIMEOUT = float(env("SOAK_TIMEOUT", "30"))
DELETE = env("SOAK_DELETE", "1") != "0"
# Below the server's 10 s --header-read-timeout (which closes idle connections): a connection
# idle longer than this is not reused, so no request races the server closing it.
KEEPALIVE = float(env("SOAK_KEEPALIVE", "8"))
NOTE = env("SOAK_NOTE", "")

MODERN = "2026-07-28"
LEGACY_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"]
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "switchboard-soak", "version": "0"},
}
BOTH = "application/json, text/event-stream"
SSE_ONLY = "text/event-stream"

# Payloads of 16-64 KiB for the big echoes (sizes vary so allocations do not all look alike).
rng = random.Random(20261202)
BIG = [("".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(64 * 1024)))]
BIG_SIZES = [16 * 1024, 24 * 1024, 32 * 1024, 48 * 1024, 64 * 1024 - 64]


class Stats:
    def __init__(self):
        self.ok = Counter()  # kind -> successful calls
        self.errors = Counter()  # error kind -> count (unexpected only)
        self.error_examples = {}  # error kind -> first detail
        self.errors_by_call = Counter()  # "call kind: error kind" -> count
        self.provoked = Counter()  # provocation -> as expected
        self.content_types = Counter()  # "call kind: content type"
        self.latency = defaultdict(list)  # call kind -> seconds
        self.in_flight = 0
        self.lag_max = 0.0  # how far the legacy scheduler fell behind (s)

    def total_ok(self):
        return sum(self.ok.values())

    def total_errors(self):
        return sum(self.errors.values())

    def error(self, call_kind, kind, detail):
        self.errors[kind] += 1
        self.errors_by_call[f"{call_kind}: {kind}"] += 1
        self.error_examples.setdefault(kind, f"{call_kind}: {detail}"[:500])


S = Stats()


class CallError(Exception):
    def __init__(self, kind, detail):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


def parse_sse(text):
    """The data payloads of an SSE body (priming events with empty data skipped)."""
    out, data = [], []
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if line == "":
            if data:
                payload = "\n".join(data)
                if payload:
                    out.append(payload)
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" ") if line[5:6] == " " else line[5:])
    if data and "\n".join(data):
        out.append("\n".join(data))
    return out


async def exchange(http, body, headers, want_id, call_kind):
    """POSTs `body`; returns (the JSON-RPC response answering `want_id`, other messages, resp)."""
    try:
        async with http.post(URL, data=body, headers=headers) as resp:
            raw = await resp.read()
            ctype = resp.headers.get("Content-Type", "").split(";")[0]
            status = resp.status
            rheaders = resp.headers
    except asyncio.TimeoutError:
        raise CallError("timeout", f"no answer within {TIMEOUT} s")
    except aiohttp.ClientError as e:
        raise CallError(f"transport {type(e).__name__}", str(e))
    except OSError as e:
        raise CallError(f"transport {type(e).__name__}", str(e))
    S.content_types[f"{call_kind}: {status} {ctype or '-'}"] += 1
    if want_id is None:
        return None, [], status, rheaders
    try:
        text = raw.decode("utf-8")
        if ctype == "text/event-stream":
            messages = [json.loads(d) for d in parse_sse(text)]
        elif text.strip():
            messages = [json.loads(text)]
        else:
            messages = []
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CallError("wrong result", f"HTTP {status}, unparseable body ({e}): {raw[:200]!r}")
    answer = None
    others = []
    for m in messages:
        if isinstance(m, dict) and m.get("id") == want_id and "method" not in m:
            answer = m
        else:
            others.append(m)
    if answer is not None and "error" in answer:
        raise CallError(f"rpc {answer['error'].get('code')}", f"HTTP {status}: {answer['error']}")
    if status != 200:
        raise CallError(f"http {status}", raw[:300].decode("utf-8", "replace"))
    if answer is None:
        raise CallError("wrong result", f"no response with id {want_id} in {raw[:300]!r}")
    return answer, others, status, rheaders


def check_result(answer, expect_text=None, tools=False):
    result = answer.get("result")
    if not isinstance(result, dict):
        raise CallError("wrong result", f"no result object: {str(answer)[:300]}")
    if tools:
        if not isinstance(result.get("tools"), list) or not result["tools"]:
            raise CallError("wrong result", f"no tools: {str(result)[:300]}")
        return result
    if result.get("isError"):
        raise CallError("tool error", str(result)[:300])
    if expect_text is not None:
        content = result.get("content") or [{}]
        text = content[0].get("text") if isinstance(content[0], dict) else None
        if text != expect_text:
            shown = text if text is None else f"{text[:60]!r}... ({len(text)} chars)"
            raise CallError("wrong result", f"expected {len(expect_text)} chars {expect_text[:40]!r}..., got {shown}")
    return result


# ---------------------------------------------------------------------------- legacy sessions


class Session:
    __slots__ = ("id", "version", "next_id")

    def __init__(self, sid, version):
        self.id, self.version, self.next_id = sid, version, 1


def legacy_headers(session, accept=BOTH):
    h = {"Content-Type": "application/json", "Accept": accept, "Mcp-Session-Id": session.id}
    if session.version != "2025-03-26":  # the header exists from 2025-06-18 on
        h["Mcp-Protocol-Version"] = session.version
    return h


async def open_session(http, i):
    version = LEGACY_VERSIONS[i % len(LEGACY_VERSIONS)]
    body = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "switchboard-soak", "version": "0"}}})
    answer, _, _, rheaders = await exchange(
        http, body, {"Content-Type": "application/json", "Accept": BOTH}, 0, "initialize")
    sid = rheaders.get("Mcp-Session-Id")
    if not sid:
        raise CallError("wrong result", "initialize answered without Mcp-Session-Id")
    got = answer.get("result", {}).get("protocolVersion")
    if got != version:
        raise CallError("wrong result", f"asked for {version}, got {got}")
    session = Session(sid, version)
    _, _, status, _ = await exchange(
        http, json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        legacy_headers(session), None, "initialized")
    if status != 202:
        raise CallError(f"http {status}", "notifications/initialized not accepted")
    return session


def big_message(k):
    size = BIG_SIZES[k % len(BIG_SIZES)]
    head = f"b{k}:"
    return head + BIG[0][: size - len(head)]


# Legacy call mix, by k % 20: 10 small echoes, 4 big echoes, 2 big echoes with an SSE-only
# Accept, 2 test_tool_with_progress with a progressToken (an SSE answer with three progress
# notifications: a stream whose event log the server keeps for resumption), 1 tools/list,
# 1 test_tool_with_logging.
# SOAK_LEGACY_MIX (comma-separated kinds, repeated to weigh them) replaces it.
LEGACY_MIX = (["echo"] * 10 + ["echo-big"] * 4 + ["echo-big-sse-only"] * 2 + ["progress"] * 2
              + ["list"] + ["logging"])
if env("SOAK_LEGACY_MIX"):
    LEGACY_MIX = env("SOAK_LEGACY_MIX").split(",")


async def legacy_call(http, session, k):
    kind = LEGACY_MIX[k % len(LEGACY_MIX)]
    rid = session.next_id
    session.next_id += 1
    accept = BOTH
    expect = None
    tools = False
    if kind == "echo":
        expect = f"s{k}"
        params = {"name": "echo", "arguments": {"message": expect}}
    elif kind.startswith("echo-big"):
        expect = big_message(k)
        params = {"name": "echo", "arguments": {"message": expect}}
        if kind == "echo-big-sse-only":
            accept = SSE_ONLY
    elif kind == "progress":
        expect = "Progress complete"
        params = {"name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": f"p{k}"}}
    elif kind == "logging":
        expect = "Logging complete"
        params = {"name": "test_tool_with_logging", "arguments": {}}
    else:
        tools = True
        params = None
    method = "tools/list" if tools else "tools/call"
    msg = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        msg["params"] = params
    t0 = time.monotonic()
    S.in_flight += 1
    try:
        answer, others, _, _ = await exchange(http, json.dumps(msg), legacy_headers(session, accept), rid, f"legacy {kind}")
        check_result(answer, expect, tools)
        if kind == "progress" and others:
            progress = [m for m in others if m.get("method") == "notifications/progress"]
            if len(progress) != 3:
                raise CallError("wrong result", f"{len(progress)} progress notifications on the SSE answer, not 3")
        S.ok[f"legacy {kind}"] += 1
        S.latency[f"legacy {kind}"].append(time.monotonic() - t0)
    except CallError as e:
        S.error(f"legacy {kind}", e.kind, e.detail)
    finally:
        S.in_flight -= 1


async def provoke_unknown_session(http, k):
    """A request in a session that does not exist: must be 404."""
    bogus = Session(f"no-such-session-{k}", "2025-11-25")
    msg = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    try:
        await exchange(http, json.dumps(msg), legacy_headers(bogus), 1, "provoked unknown session")
        S.error("provoked unknown session", "not refused", "a request in an unknown session was answered")
    except CallError as e:
        if e.kind in ("http 404", "rpc -32600"):
            S.provoked["unknown session -> 404"] += 1
        else:
            S.error("provoked unknown session", e.kind, e.detail)


# ---------------------------------------------------------------------------- modern clients

# Modern call mix, by k % 20: 13 small echoes, 4 big echoes, 1 add, 1 tools/list, 1
# test_tool_with_progress with a progressToken. SOAK_MODERN_MIX replaces it.
MODERN_MIX = ["echo"] * 13 + ["echo-big"] * 4 + ["add", "list", "progress"]
if env("SOAK_MODERN_MIX"):
    MODERN_MIX = env("SOAK_MODERN_MIX").split(",")


async def modern_call(http, k, rid):
    kind = MODERN_MIX[k % len(MODERN_MIX)]
    provoked = PROVOKE_EVERY > 0 and k % PROVOKE_EVERY == PROVOKE_EVERY - 1
    expect, tools, name = None, False, None
    if provoked:
        kind, name = "provoked tool error", "test_error_handling"
        params = {"name": name, "arguments": {}}
    elif kind == "echo":
        expect, name = f"s{k}", "echo"
        params = {"name": name, "arguments": {"message": expect}}
    elif kind == "echo-big":
        expect, name = big_message(k), "echo"
        params = {"name": name, "arguments": {"message": expect}}
    elif kind == "add":
        a, b = k % 1000, 7
        name = "add"
        params = {"name": name, "arguments": {"a": a, "b": b}}
    elif kind == "progress":
        expect, name = "Progress complete", "test_tool_with_progress"
        params = {"name": name, "arguments": {}}
    else:
        tools, params = True, {}
    params["_meta"] = dict(MODERN_META)
    if kind == "progress":
        params["_meta"]["progressToken"] = f"p{k}"
    method = "tools/list" if tools else "tools/call"
    headers = {"Content-Type": "application/json", "Accept": BOTH,
               "Mcp-Protocol-Version": MODERN, "Mcp-Method": method}
    if name:
        headers["Mcp-Name"] = name
    body = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
    t0 = time.monotonic()
    S.in_flight += 1
    try:
        answer, _, _, _ = await exchange(http, body, headers, rid, f"modern {kind}")
        if provoked:
            if answer.get("result", {}).get("isError") is True:
                S.provoked["test_error_handling -> isError"] += 1
            else:
                S.error("modern provoked tool error", "not refused", f"answered {str(answer)[:200]}")
            return
        result = check_result(answer, expect, tools)
        if kind == "add" and (result.get("structuredContent") or {}).get("sum") != (k % 1000) + 7:
            raise CallError("wrong result", f"add {k % 1000} + 7 gave {str(result)[:200]}")
        S.ok[f"modern {kind}"] += 1
        S.latency[f"modern {kind}"].append(time.monotonic() - t0)
    except CallError as e:
        S.error(f"modern {kind}", e.kind, e.detail)
    finally:
        S.in_flight -= 1


async def modern_client(c, start, end, counter):
    """One modern client: its own keep-alive connection, a call every ~N_MODERN/MODERN_RPS s."""
    mean = N_MODERN / MODERN_RPS
    conn = aiohttp.TCPConnector(limit=1, keepalive_timeout=KEEPALIVE, force_close=False)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout, auto_decompress=False) as http:
        def pause(secs):  # never past the end of the window
            return asyncio.sleep(max(0.0, min(secs, end - time.monotonic())))

        await pause(max(0.0, start - time.monotonic()) + random.uniform(0, mean))
        rid = 1
        while time.monotonic() < end:
            k = counter[0]
            counter[0] += 1
            await modern_call(http, k, rid)
            rid += 1
            await pause(mean * random.uniform(0.5, 1.5))


# ---------------------------------------------------------------------------- sampling


def proc_sample():
    d = {}
    try:
        with open(f"/proc/{PID}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
                    d[k] = int(v.split()[0])
        with open(f"/proc/{PID}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        d["cpu_s"] = round((int(fields[11]) + int(fields[12])) / tick, 2)
        d["fds"] = len(os.listdir(f"/proc/{PID}/fd"))
    except (OSError, ValueError, IndexError) as e:
        d["error"] = str(e)
    with open("/proc/loadavg") as f:
        d["loadavg"] = f.read().split()[:3]
    return d


def cpu_times():
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    return [int(x) for x in parts]


async def sampler(samples, t0, end, stop):
    prev = cpu_times()
    while True:
        s = proc_sample()
        now = cpu_times()
        delta = [b - a for a, b in zip(prev, now)]
        total = sum(delta) or 1
        prev = now
        s.update({
            "t": round(time.monotonic() - t0, 1),
            "calls_ok": S.total_ok(), "errors": S.total_errors(), "in_flight": S.in_flight,
            "machine_busy_pct": round(100 * (total - delta[3] - delta[4]) / total, 1),
            "steal_pct": round(100 * delta[7] / total, 1) if len(delta) > 7 else None,
            "client_cpu_s": round(sum(os.times()[:2]), 1),
        })
        samples.append(s)
        rss = s.get("VmRSS", 0) / 1024
        print(f"  t={s['t']:6.0f}s  RSS {rss:7.1f} MiB  calls {s['calls_ok']:>8,}  errors {s['errors']:>4}  "
              f"in flight {s['in_flight']:>4}  fds {s.get('fds', '-')}  load {' '.join(s['loadavg'])}  "
              f"busy {s['machine_busy_pct']} %", flush=True)
        if stop.is_set() or time.monotonic() >= end:
            return
        try:
            await asyncio.wait_for(stop.wait(), timeout=SAMPLE - ((time.monotonic() - t0) % SAMPLE))
        except asyncio.TimeoutError:
            pass


def percentile(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return round(1000 * xs[min(len(xs) - 1, int(p / 100 * len(xs)))], 2)


def plateau(samples):
    """(verdict, middle-third max, last-third max) over the soak window's samples."""
    pts = [(s["t"], s["VmRSS"]) for s in samples if "VmRSS" in s]
    if len(pts) < 6:
        return False, None, None, "too few samples"
    span = pts[-1][0]
    middle = [r for t, r in pts if span / 3 < t <= 2 * span / 3]
    last = [r for t, r in pts if t > 2 * span / 3]
    if not middle or not last:
        return False, None, None, "too few samples"
    m, l = max(middle), max(last)
    ok = l <= m * (1 + PLATEAU_PCT / 100)
    return ok, m, l, f"max RSS of the last third {l / 1024:.1f} MiB vs the middle third's {m / 1024:.1f} MiB ({100 * (l / m - 1):+.1f} %, limit +{PLATEAU_PCT:g} %)"


def slope_mib_per_min(samples, since):
    pts = [(s["t"], s["VmRSS"] / 1024) for s in samples if "VmRSS" in s and s["t"] >= since]
    if len(pts) < 2:
        return None
    n = len(pts)
    mt = sum(t for t, _ in pts) / n
    mr = sum(r for _, r in pts) / n
    den = sum((t - mt) ** 2 for t, _ in pts) or 1
    return round(60 * sum((t - mt) * (r - mr) for t, r in pts) / den, 2)


def machine():
    def sh(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            return ""
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "mem_gib": round(int(mem) / 1024 / 1024, 1), "python": platform.python_version(),
            "aiohttp": aiohttp.__version__, "commit": sh("git", "rev-parse", "--short=12", "HEAD"),
            "dirty_files": [l.split(None, 1)[1] for l in sh("git", "status", "--porcelain", "--untracked-files=no").splitlines() if l],
            "binary": env("SOAK_BINARY", ""), "binary_mtime": binary_mtime()}


def binary_mtime():
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.path.getmtime(env("SOAK_BINARY", ""))))
    except OSError:
        return None


# ---------------------------------------------------------------------------- main


async def main():
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    facts = machine()
    print(f"soak: {N_LEGACY:,} legacy sessions at {LEGACY_RPS:g} calls/s, {N_MODERN:,} modern clients at "
          f"{MODERN_RPS:g} calls/s, {SECS:g} s, RSS every {SAMPLE:g} s; server pid {PID}", flush=True)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    legacy_conn = aiohttp.TCPConnector(limit=LEGACY_CONNS, keepalive_timeout=KEEPALIVE)
    legacy_http = aiohttp.ClientSession(connector=legacy_conn, timeout=timeout, auto_decompress=False)
    idle = proc_sample()

    # 1. Open the sessions.
    print(f"opening {N_LEGACY:,} legacy sessions ...", flush=True)
    t_open = time.monotonic()
    open_samples = []
    stop_open = asyncio.Event()
    open_sampler = asyncio.create_task(sampler(open_samples, t_open, float("inf"), stop_open))
    sessions = [None] * N_LEGACY
    open_failures = Counter()
    queue = iter(range(N_LEGACY))

    async def opener():
        for i in queue:
            try:
                sessions[i] = await open_session(legacy_http, i)
            except CallError as e:
                open_failures[e.kind] += 1
                S.error("initialize", e.kind, e.detail)

    await asyncio.gather(*(opener() for _ in range(OPEN_CONCURRENCY)))
    open_secs = time.monotonic() - t_open
    stop_open.set()
    await open_sampler
    live = [s for s in sessions if s is not None]
    print(f"opened {len(live):,} sessions in {open_secs:.1f} s ({sum(open_failures.values())} failed)", flush=True)
    if not live:
        print("no session opened; giving up", file=sys.stderr)
        return 2

    # 2. The soak window.
    samples = []
    t0 = time.monotonic()
    end = t0 + SECS
    stop = asyncio.Event()
    samp = asyncio.create_task(sampler(samples, t0, end, stop))
    modern_counter = [0]
    modern = [asyncio.create_task(modern_client(c, t0, end, modern_counter)) for c in range(N_MODERN)]
    sem = asyncio.Semaphore(LEGACY_CONNS * 2)
    tasks = set()
    k = 0
    next_t = t0
    while True:
        next_t += 1 / LEGACY_RPS
        now = time.monotonic()
        if next_t >= end:
            break
        if next_t > now:
            await asyncio.sleep(next_t - now)
        else:
            S.lag_max = max(S.lag_max, now - next_t)
        await sem.acquire()
        if PROVOKE_EVERY > 0 and k % PROVOKE_EVERY == PROVOKE_EVERY - 1:
            coro = provoke_unknown_session(legacy_http, k)
        else:
            coro = legacy_call(legacy_http, live[k % len(live)], k)
        task = asyncio.create_task(coro)
        tasks.add(task)
        task.add_done_callback(lambda t: (tasks.discard(t), sem.release()))
        k += 1
    await asyncio.gather(*modern)
    if tasks:
        await asyncio.gather(*tasks)
    stop.set()
    await samp
    soak_secs = time.monotonic() - t0
    end_sample = samples[-1]

    # 3. End the sessions.
    after_delete = None
    delete_failures = Counter()
    if DELETE:
        print(f"deleting {len(live):,} sessions ...", flush=True)
        dq = iter(live)

        async def deleter():
            for s in dq:
                try:
                    async with legacy_http.delete(URL, headers=legacy_headers(s)) as resp:
                        await resp.read()
                        if resp.status not in (200, 202, 204):
                            delete_failures[f"http {resp.status}"] += 1
                            S.error("delete", f"http {resp.status}", "DELETE of a live session refused")
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                    delete_failures[type(e).__name__] += 1
                    S.error("delete", f"transport {type(e).__name__}", str(e))

        await asyncio.gather(*(deleter() for _ in range(OPEN_CONCURRENCY)))
        await asyncio.sleep(5)
        after_delete = proc_sample()
    await legacy_http.close()

    # 4. Report.
    verdict_plateau, mid_max, last_max, rule_text = plateau(samples)
    errors = S.total_errors()
    passed = verdict_plateau and errors == 0
    calls = S.total_ok()
    print()
    print(f"{'t (s)':>7} {'RSS MiB':>9} {'calls ok':>10} {'errors':>7} {'load':>16}")
    print(f"{'idle':>7} {idle.get('VmRSS', 0) / 1024:9.1f} {'':>10} {'':>7} {' '.join(idle['loadavg']):>16}")
    o = open_samples[-1]
    print(f"{'opened':>7} {o.get('VmRSS', 0) / 1024:9.1f} {o['calls_ok']:>10,} {o['errors']:>7} {' '.join(o['loadavg']):>16}")
    for s in samples:
        print(f"{s['t']:7.0f} {s.get('VmRSS', 0) / 1024:9.1f} {s['calls_ok']:>10,} {s['errors']:>7} {' '.join(s['loadavg']):>16}")
    if after_delete:
        print(f"{'deleted':>7} {after_delete.get('VmRSS', 0) / 1024:9.1f}")
    print()
    print(f"calls ok: {calls:,} in {soak_secs:.0f} s ({calls / soak_secs:.0f}/s); by kind: "
          + ", ".join(f"{k} {v:,}" for k, v in sorted(S.ok.items())))
    print(f"provoked (as expected): {dict(S.provoked)}")
    print(f"unexpected errors: {errors}" + (f" {dict(S.errors)}" if errors else ""))
    for kind, ex in S.error_examples.items():
        print(f"  {kind}: {ex}")
    print(f"plateau: {'yes' if verdict_plateau else 'NO'} — {rule_text}")
    print(f"RSS slope over the last third: {slope_mib_per_min(samples, samples[-1]['t'] * 2 / 3)} MiB/min")
    doc = {
        "format": "switchboard-soak/1",
        "started": started,
        "note": NOTE,
        "machine": facts,
        "config": {"url": URL, "secs": SECS, "sample_secs": SAMPLE, "legacy_sessions": N_LEGACY,
                   "modern_clients": N_MODERN, "legacy_rps": LEGACY_RPS, "modern_rps": MODERN_RPS,
                   "legacy_connections": LEGACY_CONNS, "provoke_every": PROVOKE_EVERY,
                   "plateau_pct": PLATEAU_PCT, "keepalive_secs": KEEPALIVE, "timeout_secs": TIMEOUT,
                   "legacy_versions": LEGACY_VERSIONS, "legacy_mix": LEGACY_MIX, "modern_mix": MODERN_MIX,
                   "big_echo_sizes": BIG_SIZES, "server_args": env("SOAK_SERVER_ARGS", "")},
        "idle": idle,
        "open": {"sessions_opened": len(live), "failed": dict(open_failures), "secs": round(open_secs, 1),
                 "samples": open_samples},
        "samples": samples,
        "after_delete": after_delete,
        "delete_failures": dict(delete_failures),
        "soak_secs": round(soak_secs, 1),
        "calls_ok": calls,
        "calls_ok_by_kind": dict(S.ok),
        "provoked": dict(S.provoked),
        "errors": errors,
        "errors_by_kind": dict(S.errors),
        "errors_by_call": dict(S.errors_by_call),
        "error_examples": S.error_examples,
        "content_types": dict(S.content_types),
        "latency_ms": {k: {"n": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99),
                           "max": percentile(v, 100)} for k, v in sorted(S.latency.items())},
        "legacy_scheduler_lag_max_s": round(S.lag_max, 3),
        "plateau": {"rule": f"max RSS of the last third of the soak's samples <= (1 + {PLATEAU_PCT:g} %) x max of the middle third",
                    "middle_max_kib": mid_max, "last_max_kib": last_max, "passed": verdict_plateau,
                    "text": rule_text,
                    "slope_last_third_mib_per_min": slope_mib_per_min(samples, samples[-1]["t"] * 2 / 3)},
        "rss_mib": {"idle": round(idle.get("VmRSS", 0) / 1024, 1),
                    "after_open": round(open_samples[-1].get("VmRSS", 0) / 1024, 1),
                    "start": round(samples[0].get("VmRSS", 0) / 1024, 1),
                    "peak": round(max(s.get("VmRSS", 0) for s in samples) / 1024, 1),
                    "end": round(end_sample.get("VmRSS", 0) / 1024, 1),
                    "after_delete": round(after_delete.get("VmRSS", 0) / 1024, 1) if after_delete else None},
        "passed": passed,
    }
    os.makedirs(os.path.dirname(os.path.abspath(OUT)), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"raw results: {OUT}")
    print("SOAK PASSED" if passed else "SOAK FAILED")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
