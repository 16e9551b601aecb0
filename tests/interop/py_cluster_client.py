#!/usr/bin/env python3
"""Cluster driver: one official-Python-SDK client making a stream of shop calls through a load
balancer, while the test kills and restarts replicas behind it.

    .peers/py2/bin/python tests/interop/py_cluster_client.py --http http://127.0.0.1:PORT/mcp \\
        --era legacy --header 'X-API-Key: K' --tag a --calls 60 --pause-ms 50

--era legacy: one `initialize` session for every call (the session must survive on other
replicas). --era 2026-07-28: modern, stateless requests (py_client.py's negotiation).

Calls cycle through `create_order` and `process_refund` (each with an idempotency key) and
`get_order_status`. A call that fails (no answer: a transport or protocol error) is retried once
with the same arguments (and key); a tool error is an answer (e.g. nothing left to refund) and is
not. Prints one JSON object:
    {"era": ..., "reconnects": n, "sessions": [index of the first call of each session],
     "calls": [{"i", "tool", "args", "attempts", "ok", "result" (structuredContent) |
      null, "refused": the tool error's text | null, "errors": [str, ...]}]}
Exit code 1 (with {"error"} on stderr) only if the session itself cannot be set up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import anyio  # noqa: E402

import py_client  # noqa: E402  (its transport and era negotiation)
from mcp import ClientSession  # noqa: E402

PLENTIFUL = ["OUT-BT-400", "HOM-PN-400", "OUT-HL-300", "CMP-MS-300", "OUT-TN-100", "BOK-DDIA"]
REFUNDABLE = [("ORD-20250204-1037", 25), ("ORD-20250925-1296", 25), ("ORD-20250307-1074", 700),
              ("ORD-20250410-1111", 700)]


def next_call(tag: str, i: int) -> tuple[str, dict[str, Any]]:
    kind = i % 3
    n = i // 3
    if kind == 0:
        items = [{"sku": PLENTIFUL[n % 6], "quantity": 1}]
        if n % 2 == 0:
            items.append({"sku": PLENTIFUL[(n + 1) % 6], "quantity": 1})
        return "create_order", {"customer_id": f"CUST-{1 + n % 12:04d}", "items": items,
                                "idempotency_key": f"cluster-{tag}-o-{i}"}
    if kind == 1:
        order, amount = REFUNDABLE[n % len(REFUNDABLE)]
        return "process_refund", {"order_id": order, "amount_cents": amount, "reason": "goodwill",
                                  "idempotency_key": f"cluster-{tag}-r-{i}"}
    return "get_order_status", {"order_id": "ORD-20250204-1037"}


async def attempt(session: Any, tool: str, args: dict[str, Any], timeout: float) -> tuple[str, Any]:
    """("ok", structuredContent) | ("refused", the tool error's text) | ("failed", what went wrong)."""
    try:
        with anyio.fail_after(timeout):
            res = await session.call_tool(tool, args)
    except anyio.get_cancelled_exc_class():
        raise  # The transport died under us: the connection is reopened (see run).
    except Exception as e:  # noqa: BLE001 — transport failures come as many types
        return "failed", f"{type(e).__name__}: {e}"
    # Field names differ between SDK majors: read the result as the wire JSON.
    d = py_client.call_result(res)
    if d["isError"]:
        return "refused", " ".join(c.get("text", "") for c in d["content"])
    return "ok", d["structuredContent"]


async def run(ns: argparse.Namespace) -> dict[str, Any]:
    """Calls until done. The SDK's transport ends the whole client when a request's connection
    drops (a replica killed with the request in flight): then the connection is opened again — a
    modern client is stateless; a legacy one starts a new session, counted in "reconnects" — and
    the interrupted call is retried once, like any failed call."""
    out: dict[str, Any] = {"era": ns.era, "calls": [], "reconnects": 0, "sessions": []}
    current: dict[str, Any] | None = None
    i = 0
    while i < ns.calls:
        try:
            async with py_client.open_transport(ns) as streams:
                read_stream, write_stream = streams[0], streams[1]
                async with ClientSession(read_stream, write_stream) as session:
                    await py_client.negotiate(session, ns.era)
                    out["sessions"].append(len(out["calls"]))
                    while i < ns.calls:
                        if current is None:
                            tool, args = next_call(ns.tag, i)
                            current = {"i": i, "tool": tool, "args": args, "attempts": 0, "ok": False,
                                       "result": None, "refused": None, "errors": []}
                        while current["attempts"] < 2:
                            current["attempts"] += 1
                            outcome, value = await attempt(session, current["tool"], current["args"], ns.call_timeout)
                            if outcome == "ok":
                                current["ok"], current["result"] = True, value
                                break
                            if outcome == "refused":
                                # An answer (a business rule, e.g. nothing left to refund): not retried.
                                current["refused"] = value
                                break
                            current["errors"].append(value)
                            await anyio.sleep(ns.retry_pause_ms / 1000)
                        out["calls"].append(current)
                        current = None
                        i += 1
                        await anyio.sleep(ns.pause_ms / 1000)
        except BaseException as e:  # noqa: BLE001 — the transport's task group ends with a group
            if isinstance(e, (KeyboardInterrupt, SystemExit)) or out["reconnects"] >= 3:
                raise
            out["reconnects"] += 1
            if current is not None:
                current["errors"].append(f"connection lost: {py_client.describe(e)}")
                if current["attempts"] >= 2:
                    out["calls"].append(current)
                    current = None
                    i += 1
            await anyio.sleep(ns.retry_pause_ms / 1000)
    return out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--http", required=True, metavar="URL")
    p.add_argument("--era", default="legacy")
    p.add_argument("--header", action="append", default=[], metavar="NAME:VALUE")
    p.add_argument("--tag", required=True, help="makes this client's idempotency keys unique")
    p.add_argument("--calls", type=int, default=60)
    p.add_argument("--pause-ms", type=int, default=50, help="pause between calls")
    p.add_argument("--retry-pause-ms", type=int, default=500, help="pause before the one retry")
    p.add_argument("--call-timeout", type=float, default=15.0)
    ns = p.parse_args(argv)
    ns.stdio = ns.sse = None
    ns.headers = {}
    for h in ns.header:
        name, _, value = h.partition(":")
        ns.headers[name.strip()] = value.strip()
    try:
        result = anyio.run(run, ns)
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        print(json.dumps({"error": py_client.describe(e)}), file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
