#!/usr/bin/env python3
"""Turns bench/compare.sh's JSON reports into one markdown table plus the issue's targets, on
stdout. Each cell shows the median of its runs. The input is either the run directory
(DIR/<peer>--<cell>.r<N>.json, one per run, written by `switchboard bench --json` or converted from
oha; DIR/<peer>--<cell>.json for single measurements; DIR/machine.json) or a raw results file,
bench/results/<date>.json, which holds every run of a full comparison and the machine's facts, so
the table can be re-derived from it at any time.

    python3 bench/table.py target/bench
    python3 bench/table.py bench/results/2026-12-02.json
    python3 bench/table.py target/bench --save bench/results/2026-12-02.json   # bundle, then print
"""

import json
import pathlib
import re
import statistics
import sys

PEERS = [("switchboard", "Switchboard"), ("rmcp", "rmcp"), ("ts", "TS SDK"), ("python", "Python SDK"),
         ("axum", "axum echo"), ("gateway", "SB behind SB")]
ROWS = [(f"{era}-echo-c{c}", f"tools/call echo, {era}, {c} conn") for era in ("modern", "legacy") for c in (1, 16, 64, 256)]
ROWS += [("modern-list-c64", "tools/list, modern, 64 conn"), ("legacy-list-c64", "tools/list, legacy, 64 conn"),
         ("ws-modern-echo-c64", "WebSocket echo, modern, 64 conn"),
         ("stdio-echo-c1", "stdio echo, modern, depth 1"), ("stdio-echo-c64", "stdio echo, modern, pipelined 64"),
         ("shop-order-status-c1", "shop get_order_status (SQLite), modern, 1 conn"),
         ("shop-order-status-c64", "shop get_order_status (SQLite), modern, 64 conn")]
# Server CPU per request: independent of how fast the load generator is.
CPU_ROWS = [(f"{era}-echo-c{c}", f"server CPU per tools/call, {era}, {c} conn") for era in ("modern", "legacy") for c in (16, 64)]
# The load generator's own CPU per request (it must not be the bottleneck; `switchboard bench`
# reports it, oha does not).
CLIENT_ROWS = [("modern-echo-c64", "load generator CPU per request, modern, 64 conn")]


def load_dir(out):
    """The raw results of a run directory: {"machine": {...}, "runs": [{peer, cell, run, report}]}."""
    runs = []
    for f in sorted(out.glob("*--*.json")):
        m = re.fullmatch(r"(.+?)--(.+?)(?:\.r(\d+))?", f.stem)
        if not m:
            continue
        try:
            report = json.loads(f.read_text())
        except ValueError:
            continue  # A run that failed before printing its report.
        runs.append({"peer": m.group(1), "cell": m.group(2), "run": int(m.group(3) or 1), "report": report})
    machine = {}
    if (out / "machine.json").exists():
        machine = json.loads((out / "machine.json").read_text())
    elif (out / "machine.txt").exists():  # Run directories written before machine.json.
        machine = {"text": (out / "machine.txt").read_text().splitlines()}
    return {"format": "switchboard-bench-results/1", "machine": machine, "runs": runs}


def load(path):
    """The raw results, from a run directory or a results file."""
    if path.is_dir():
        return load_dir(path)
    return json.loads(path.read_text())


def by_cell(results):
    """{(peer, cell): [report, ...]} over every run, in run order."""
    cells = {}
    for r in sorted(results["runs"], key=lambda r: (r["peer"], r["cell"], r["run"])):
        cells.setdefault((r["peer"], r["cell"]), []).append(r["report"])
    return cells


def machine_lines(m):
    if "text" in m:
        return m["text"]
    lines = [f"machine: {m.get('nproc', '?')} CPUs, {m.get('cpu', '?')}, {m.get('kernel', '?')}; {m.get('rustc', '?')}"]
    rev = m.get("git_rev", "?")[:12] + (" (dirty)" if m.get("git_dirty") else "")
    lines.append(f"date: {m.get('date', '?')}; commit {rev}; runs per cell: {m.get('runs', '?')} x {m.get('duration_s', '?')}s; "
                 f"pinned: {m.get('pinned', '?')}; load generator: {m.get('generator', 'switchboard bench')}")
    return lines


def median_of(runs, get):
    values = [v for v in (get(r) for r in runs) if v is not None]
    return statistics.median(values) if values else None


def cpu_us(r):
    s = r.get("server")
    return 1e6 * s["cpu_seconds"] / r["ok"] if s and r.get("ok") else None


def client_cpu_us(r):
    m = r.get("machine")
    return 1e6 * m["client_cpu_seconds"] / r["ok"] if m and r.get("ok") else None


def summary(runs):
    """The median run of a cell: throughput, p99 and CPU per request are each a median."""
    if not runs:
        return None
    return {
        "throughput_rps": median_of(runs, lambda r: r.get("throughput_rps")),
        "p99": median_of(runs, lambda r: r.get("latency_ms", {}).get("p99")),
        "cpu_us": median_of(runs, cpu_us),
        "client_cpu_us": median_of(runs, client_cpu_us),
        "failed": sum(r.get("failed", 0) for r in runs),
        "disturbed": sum(1 for r in runs if r.get("disturbed")),
        "generators": sorted({r["generator"] for r in runs if r.get("generator")}),
        "runs": len(runs),
    }


def fmt(s):
    if s is None or s["throughput_rps"] is None:
        return "n/a"
    text = f"{s['throughput_rps']:,.0f}/s · p99 {s['p99']:.2f} ms"
    if s.get("generators"):
        text += f" ({', '.join(s['generators'])})"
    if s["failed"]:
        text += f" ⚠ {s['failed']} failed"
    if s["disturbed"]:
        text += f" ⚠ {s['disturbed']} of {s['runs']} runs disturbed"
    return text


def main():
    args = sys.argv[1:]
    save = None
    if "--save" in args:
        i = args.index("--save")
        save = pathlib.Path(args[i + 1])
        del args[i:i + 2]
    results = load(pathlib.Path(args[0] if args else "target/bench"))
    if save:
        save.parent.mkdir(parents=True, exist_ok=True)
        save.write_text(json.dumps(results, indent=1) + "\n")
        print(f"raw results: {save} ({len(results['runs'])} runs)", file=sys.stderr)
    raw = by_cell(results)
    cells = {k: summary(v) if k[1] not in ("idle", "idle-demo", "idle-sessions") else v[-1] for k, v in raw.items()}
    present = [(p, n) for p, n in PEERS if any(k[0] == p for k in cells)]
    others = [(p, n) for p, n in present if p != "switchboard"]
    if results.get("machine"):
        print("\n".join(f"_{line}_  " for line in machine_lines(results["machine"])) + "\n")
    head = ["scenario"] + [n for _, n in present] + [f"SB ÷ {n}" for _, n in others]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for key, title in ROWS:
        if not any((p, key) in cells for p, _ in present):
            continue
        row = [title] + [fmt(cells.get((p, key))) for p, _ in present]
        sb = cells.get(("switchboard", key))
        for p, _ in others:
            r = cells.get((p, key))
            if sb and r and r["throughput_rps"] and r["p99"]:
                row.append(f"{sb['throughput_rps'] / r['throughput_rps']:.2f}× (p99 {sb['p99'] / r['p99']:.2f}×)")
            else:
                row.append("–")
        print("| " + " | ".join(row) + " |")
    for key, title in CPU_ROWS:
        if not any((p, key) in cells for p, _ in present):
            continue
        vals = {p: (cells.get((p, key)) or {}).get("cpu_us") for p, _ in present}
        row = [title] + [f"{vals[p]:.1f} µs" if vals[p] else "n/a" for p, _ in present]
        sb = vals.get("switchboard")
        row += [f"{sb / vals[p]:.2f}×" if sb and vals[p] else "–" for p, _ in others]
        print("| " + " | ".join(row) + " |")
    for key, title in CLIENT_ROWS:
        vals = {p: (cells.get((p, key)) or {}).get("client_cpu_us") for p, _ in present}
        if not any(vals.values()):
            continue
        row = [title] + [f"{vals[p]:.1f} µs" if vals[p] else "n/a" for p, _ in present] + ["–"] * len(others)
        print("| " + " | ".join(row) + " |")
    idle = ["idle RSS after start"] + [
        f"{cells[(p, 'idle')]['idle_rss_kib'] / 1024:.1f} MiB" if (p, "idle") in cells else "n/a" for p, _ in present
    ] + ["–"] * len(others)
    print("| " + " | ".join(idle) + " |")
    if ("switchboard", "idle-demo") in cells:
        row = ["idle RSS after start, full `--demo` toolset"] + [
            f"{cells[('switchboard', 'idle-demo')]['idle_rss_kib'] / 1024:.1f} MiB" if p == "switchboard" else "n/a"
            for p, _ in present] + ["–"] * len(others)
        print("| " + " | ".join(row) + " |")
    s = cells.get(("switchboard", "idle-sessions"))
    if s and s.get("idle_sessions"):
        i = s["idle_sessions"]
        b, a = i.get("rss_before_kib") or 0, i.get("rss_after_kib") or 0
        row = [f"{i['requested']:,} idle legacy sessions"] + [
            f"{i['opened']:,} opened, RSS {b / 1024:.1f} → {a / 1024:.1f} MiB ({(a - b) / max(i['opened'], 1):.1f} KiB each)"
            if p == "switchboard" else "n/a" for p, _ in present] + ["–"] * len(others)
        print("| " + " | ".join(row) + " |")

    def rps(peer, key):
        r = cells.get((peer, key))
        return r["throughput_rps"] if r and not r["failed"] else None

    def cpu(peer, key):
        r = cells.get((peer, key))
        return r["cpu_us"] if r and not r["failed"] else None

    print("\nTargets (issue 11; goals, not gates):\n")
    checks = []

    def ratio(what, mine, theirs, ok, unit="×"):
        if mine and theirs:
            checks.append((what, f"{mine / theirs:.2f}{unit}", ok(mine / theirs)))
        else:
            checks.append((what, "not measured", None))

    for c in (16, 64):
        key = f"modern-echo-c{c}"
        ratio(f"≥ 2.0× rmcp throughput (tools/call echo, modern, {c} conn)",
              rps("switchboard", key), rps("rmcp", key), lambda x: x >= 2.0)
        ratio(f"≥ 80 % of the bare axum echo's throughput (tools/call echo, modern, {c} conn)",
              rps("switchboard", key), rps("axum", key), lambda x: x >= 0.8)
        ratio(f"server CPU per call ≤ 1.15× the axum echo's (tools/call echo, modern, {c} conn)",
              cpu("switchboard", key), cpu("axum", key), lambda x: x <= 1.15)
    for c in (16, 64):
        key = f"legacy-echo-c{c}"
        ratio(f"≥ 2× rmcp legacy (tools/call echo, legacy, {c} conn)",
              rps("switchboard", key), rps("rmcp", key), lambda x: x >= 2.0)
    stdio = rps("switchboard", "stdio-echo-c64")
    checks.append(("stdio pipelined (64 in flight) ≥ 40k round trips/s",
                   f"{stdio:,.0f}/s" if stdio else "not measured", stdio >= 40_000 if stdio else None))
    shop = rps("switchboard", "shop-order-status-c64")
    checks.append(("shop get_order_status on SQLite ≥ 20k calls/s at 64 conn",
                   f"{shop:,.0f}/s" if shop else "not measured", shop >= 20_000 if shop else None))
    ratio("≥ 10× TS SDK (tools/call, 64 conn; TS SDK 1.x is legacy-only, so both legacy)",
          rps("switchboard", "legacy-echo-c64"), rps("ts", "legacy-echo-c64"), lambda x: x >= 10)
    r = cells.get(("switchboard", "modern-echo-c64"))
    if r and r["p99"] is not None:
        checks.append(("p99 ≤ 2 ms at 64 conn (modern)", f"{r['p99']:.2f} ms", r["p99"] <= 2.0))
    if ("switchboard", "idle") in cells:
        mib = cells[("switchboard", "idle")]["idle_rss_kib"] / 1024
        checks.append(("≤ 15 MB RSS idle", f"{mib:.1f} MiB ({mib * 1.048576:.1f} MB)", mib * 1.048576 <= 15))
    if s and s.get("idle_sessions") and s["idle_sessions"].get("rss_after_kib"):
        mib = s["idle_sessions"]["rss_after_kib"] / 1024
        checks.append((f"{s['idle_sessions']['requested']:,} idle legacy sessions ≤ 100 MB", f"{mib:.1f} MiB", mib * 1.048576 <= 100))
    for what, value, ok in checks:
        print(f"- {'met' if ok else 'not measured' if ok is None else 'MISSED'}: {what}: {value}")


if __name__ == "__main__":
    main()
