#!/usr/bin/env python3
"""Turns bench/compare.sh's JSON reports (DIR/<peer>--<cell>.r<N>.json, one per run, written by
`switchboard bench --json`; DIR/<peer>--<cell>.json for single measurements) into one markdown
table plus the issue's targets, on stdout. Each cell shows the median of its runs.

    python3 bench/table.py target/bench
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
CPU_ROWS = [("modern-echo-c64", "server CPU per tools/call, modern, 64 conn"),
            ("legacy-echo-c64", "server CPU per tools/call, legacy, 64 conn")]


def load(out):
    """{(peer, cell): [report, ...]} over every run."""
    cells = {}
    for f in sorted(out.glob("*--*.json")):
        m = re.fullmatch(r"(.+?)--(.+?)(?:\.r\d+)?", f.stem)
        if not m:
            continue
        try:
            cells.setdefault((m.group(1), m.group(2)), []).append(json.loads(f.read_text()))
        except ValueError:
            pass
    return cells


def median_of(runs, get):
    values = [v for v in (get(r) for r in runs) if v is not None]
    return statistics.median(values) if values else None


def cpu_us(r):
    s = r.get("server")
    return 1e6 * s["cpu_seconds"] / r["ok"] if s and r.get("ok") else None


def summary(runs):
    """The median run of a cell: throughput, p99 and CPU per request are each a median."""
    if not runs:
        return None
    return {
        "throughput_rps": median_of(runs, lambda r: r.get("throughput_rps")),
        "p99": median_of(runs, lambda r: r.get("latency_ms", {}).get("p99")),
        "cpu_us": median_of(runs, cpu_us),
        "failed": sum(r.get("failed", 0) for r in runs),
        "disturbed": sum(1 for r in runs if r.get("disturbed")),
        "runs": len(runs),
    }


def fmt(s):
    if s is None or s["throughput_rps"] is None:
        return "n/a"
    text = f"{s['throughput_rps']:,.0f}/s · p99 {s['p99']:.2f} ms"
    if s["failed"]:
        text += f" ⚠ {s['failed']} failed"
    if s["disturbed"]:
        text += f" ⚠ {s['disturbed']} of {s['runs']} runs disturbed"
    return text


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/bench")
    raw = load(out)
    cells = {k: summary(v) if k[1] not in ("idle", "idle-demo", "idle-sessions") else v[-1] for k, v in raw.items()}
    present = [(p, n) for p, n in PEERS if any(k[0] == p for k in cells)]
    others = [(p, n) for p, n in present if p != "switchboard"]
    machine = out / "machine.txt"
    if machine.exists():
        print("\n".join(f"_{line}_  " for line in machine.read_text().splitlines()) + "\n")
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

    print("\nTargets (goals, not gates):\n")
    checks = []
    for peer, key, factor, what in [("rmcp", "modern-echo-c64", 2, "≥ 2× rmcp (tools/call, modern, 64 conn)"),
                                    ("ts", "legacy-echo-c64", 10, "≥ 10× TS SDK (tools/call, 64 conn; TS SDK 1.x is legacy-only, so both legacy)"),
                                    ("axum", "modern-echo-c64", 0.5, "≥ 50 % of the bare axum echo (tools/call, modern, 64 conn)")]:
        mine, theirs = rps("switchboard", key), rps(peer, key)
        if mine and theirs:
            checks.append((what, f"{mine / theirs:.2f}×", mine / theirs >= factor))
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
        print(f"- {'met' if ok else 'MISSED'}: {what}: {value}")


if __name__ == "__main__":
    main()
