#!/usr/bin/env python3
"""Turns bench/compare.sh's per-cell JSON reports (DIR/<peer>--<cell>.json, written by
`switchboard bench --json`) into one markdown table plus the issue's targets, on stdout.

    python3 bench/table.py target/bench
"""

import json
import pathlib
import sys

PEERS = [("switchboard", "Switchboard"), ("rmcp", "rmcp"), ("ts", "TS SDK"), ("python", "Python SDK"),
         ("axum", "axum echo"), ("gateway", "SB behind SB"), ("shop", "shop (SQLite)")]
ROWS = [(f"{era}-echo-c{c}", f"tools/call echo, {era}, {c} conn") for era in ("modern", "legacy") for c in (1, 16, 64, 256)]
ROWS += [("modern-list-c64", "tools/list, modern, 64 conn"), ("legacy-list-c64", "tools/list, legacy, 64 conn"),
         ("ws-modern-echo-c64", "WebSocket echo, modern, 64 conn"),
         ("stdio-echo-c1", "stdio echo, modern, depth 1"), ("stdio-echo-c64", "stdio echo, modern, pipelined 64"),
         ("shop-order-status-c64", "shop get_order_status, 64 conn")]


def load(out):
    cells = {}
    for f in sorted(out.glob("*--*.json")):
        peer, cell = f.stem.split("--", 1)
        try:
            cells[(peer, cell)] = json.loads(f.read_text())
        except ValueError:
            pass
    return cells


def fmt(r):
    if r is None:
        return "n/a"
    s = f"{r['throughput_rps']:,.0f}/s · p99 {r['latency_ms']['p99']:.2f} ms"
    if r["failed"]:
        s += f" ⚠ {r['failed']} failed"
    return s


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/bench")
    cells = load(out)
    present = [(p, n) for p, n in PEERS if any(k[0] == p for k in cells)]
    others = [(p, n) for p, n in present if p != "switchboard"]
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
            if sb and r and r["throughput_rps"] > 0 and r["latency_ms"]["p99"] > 0:
                row.append(f"{sb['throughput_rps'] / r['throughput_rps']:.2f}× (p99 {sb['latency_ms']['p99'] / r['latency_ms']['p99']:.2f}×)")
            else:
                row.append("–")
        print("| " + " | ".join(row) + " |")
    idle = ["idle RSS after start"] + [
        f"{cells[(p, 'idle')]['idle_rss_kib'] / 1024:.1f} MiB" if (p, "idle") in cells else "n/a" for p, _ in present
    ] + ["–"] * len(others)
    print("| " + " | ".join(idle) + " |")
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
    if r:
        checks.append(("p99 ≤ 2 ms at 64 conn (modern)", f"{r['latency_ms']['p99']:.2f} ms", r["latency_ms"]["p99"] <= 2.0))
    if ("switchboard", "idle") in cells:
        mib = cells[("switchboard", "idle")]["idle_rss_kib"] / 1024
        checks.append(("≤ 15 MB RSS idle", f"{mib:.1f} MiB", mib * 1.048576 <= 15))
    if s and s.get("idle_sessions") and s["idle_sessions"].get("rss_after_kib"):
        mib = s["idle_sessions"]["rss_after_kib"] / 1024
        checks.append((f"{s['idle_sessions']['requested']:,} idle legacy sessions ≤ 100 MB", f"{mib:.1f} MiB", mib * 1.048576 <= 100))
    for what, value, ok in checks:
        print(f"- {'met' if ok else 'MISSED'}: {what}: {value}")


if __name__ == "__main__":
    main()
