#!/usr/bin/env python3
"""Interop driver: exercise an MCP server with the official Python SDK (1.x or 2.x).

Run it with the python of a peer venv (see scripts/install-peers.sh):

    .peers/py2/bin/python tests/interop/py_client.py --stdio "target/debug/my-server --flag" \\
        --era auto --call echo --args '{"message":"hi"}' --read 'demo://hello'
    .peers/py1/bin/python tests/interop/py_client.py --http http://127.0.0.1:8080/mcp --call echo
    .peers/py2/bin/python tests/interop/py_client.py --sse http://127.0.0.1:8080/sse --era legacy \\
        --call test_tool_with_progress --progress

Transports: --stdio CMDLINE | --http URL (Streamable HTTP) | --sse URL (legacy 2024-11-05 HTTP+SSE,
`mcp.client.sse.sse_client`; the SSE endpoint, e.g. http://host:port/sse). Over --sse the 2.x SDK
still runs the chosen era's negotiation on the same streams (use --era legacy for a pure 2024-11-05 flow).

--elicit JSON / --sample TEXT: the client declares elicitation / sampling and answers every such
request from the server (accepting with JSON; replying TEXT as the assistant); the requests'
messages are reported under "elicited" / "sampled".

--progress: the --call is sent with a progress callback (`call_tool(..., progress_callback=...)`, so the
request carries `_meta.progressToken`); every notifications/progress received for it is reported in
"progress" as {"progress", "total", "message"} in arrival order.

Eras (--era):
    auto        2.x: probe `server/discover`, fall back to `initialize` (the SDK's own policy,
                i.e. what `mcp.Client(mode="auto")` does). 1.x: same as legacy.
    legacy      `initialize` handshake (+ notifications/initialized).
    modern      2.x only: strict `server/discover`; fails if the server does not answer it.
    2026-07-28  2.x only: adopt that modern version without any probe (`Client(mode=<version>)`);
                every request carries the per-request `_meta` envelope.

Prints ONE JSON object on stdout:
    {"sdk": "mcp", "sdk_version": "2.3.0", "era": "modern"|"legacy",
     "protocol_version": "2026-07-28", "server_info": {...}|null,
     "tools": ["echo", ...],
     "call": {"content": [...], "structuredContent": {...}|null, "isError": false} | null,
     "read": [{"uri": ..., "mimeType": ..., "text"|"blob": ...}, ...] | null,
     "progress": [{"progress": 0, "total": 100, "message": null}, ...]   (only with --progress)}
A tool result with isError=true is reported in "call" and is NOT a failure.
Any protocol/transport failure: exit code 1, {"error": ...} line on stderr, nothing on stdout.
Exit code 2: usage error (bad flags, era not available on this SDK version).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shlex
import sys
import traceback
from typing import Any

SDK_VERSION = importlib.metadata.version("mcp")
SDK_MAJOR = int(SDK_VERSION.split(".")[0])

import anyio  # noqa: E402  (after version detection, both SDKs depend on anyio)

from mcp import ClientSession, StdioServerParameters  # noqa: E402  (same names in 1.x and 2.x)
from mcp.client.stdio import stdio_client  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--stdio", metavar="CMDLINE", help="server command line (shell-quoted, split with shlex)")
    target.add_argument("--http", metavar="URL", help="Streamable HTTP endpoint URL")
    target.add_argument("--sse", metavar="URL", help="legacy HTTP+SSE (2024-11-05) SSE endpoint URL, e.g. http://h:p/sse")
    p.add_argument("--era", default="auto", help="auto | legacy | modern | <modern version> (default: auto)")
    p.add_argument("--call", metavar="NAME", help="tool to call")
    p.add_argument("--args", metavar="JSON", default="{}", help="tool arguments as a JSON object")
    p.add_argument("--read", metavar="URI", help="resource URI to read")
    p.add_argument("--elicit", metavar="JSON",
                   help="answer elicitation requests by accepting with this JSON object as the content; "
                        "each request's message is reported under \"elicited\"")
    p.add_argument("--elicit-delay", metavar="SECS", type=float, default=0.0,
                   help="wait this long before answering each elicitation request (to overlap calls)")
    p.add_argument("--sample", metavar="TEXT",
                   help="answer sampling requests with this text as the model's reply; "
                        "each request is reported under \"sampled\"")
    p.add_argument("--progress", action="store_true",
                   help="call the tool with a progress callback; report notifications under \"progress\"")
    p.add_argument("--cwd", help="working directory for the stdio server")
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="extra env var for the stdio server")
    p.add_argument("--timeout", type=float, default=60.0, help="overall timeout in seconds (default 60)")
    p.add_argument("--server-stderr", choices=["inherit", "null"], default="inherit",
                   help="where the stdio server's stderr goes (default: inherit = our stderr)")
    p.add_argument("--full", action="store_true", help="also include raw result dumps under \"raw\"")
    p.add_argument("--header", action="append", default=[], metavar="NAME:VALUE",
                   help="HTTP header sent with every request of --http/--sse (repeatable), e.g. 'X-API-Key: k'")
    ns = p.parse_args(argv)
    try:
        ns.tool_args = json.loads(ns.args)
    except json.JSONDecodeError as e:
        p.error(f"--args is not valid JSON: {e}")
    if not isinstance(ns.tool_args, dict):
        p.error("--args must be a JSON object")
    ns.headers = {}
    for h in ns.header:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            p.error(f"--header must be NAME:VALUE, got {h!r}")
        ns.headers[name.strip()] = value.strip()
    if SDK_MAJOR < 2 and ns.era not in ("auto", "legacy"):
        print(json.dumps({"error": {"type": "UsageError",
                                    "message": f"--era {ns.era} needs mcp>=2 (this is mcp {SDK_VERSION}; only legacy exists)"}}),
              file=sys.stderr)
        sys.exit(2)
    return ns


def dump(model: Any) -> Any:
    """pydantic model -> wire-shaped dict (camelCase aliases, no None fields)."""
    if model is None:
        return None
    if isinstance(model, list):
        return [dump(m) for m in model]
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


# ----------------------------------------------------------------------------- transports


def open_transport(ns: argparse.Namespace):
    if ns.stdio:
        parts = shlex.split(ns.stdio)
        if not parts:
            raise SystemExit("--stdio: empty command line")
        env = dict(e.split("=", 1) for e in ns.env) or None
        params = StdioServerParameters(command=parts[0], args=parts[1:], env=env, cwd=ns.cwd)
        errlog = open(os.devnull, "w") if ns.server_stderr == "null" else sys.stderr
        return stdio_client(params, errlog=errlog)
    if ns.sse:
        from mcp.client.sse import sse_client

        # Same signature in 1.x and 2.x: sse_client(url, headers=None, timeout=5, sse_read_timeout=300, ...)
        # -> (read, write).
        return sse_client(ns.sse, headers=ns.headers or None)
    # Streamable HTTP. 2.x: streamable_http_client(url) -> (read, write).
    # 1.x: streamable_http_client (>=1.24) or streamablehttp_client -> (read, write, get_session_id).
    from mcp.client import streamable_http as sh

    fn = getattr(sh, "streamable_http_client", None) or getattr(sh, "streamablehttp_client")
    if not ns.headers:
        return fn(ns.http)
    if SDK_MAJOR >= 2:
        # 2.x takes headers through the httpx client it is given.
        from mcp.shared._httpx_utils import create_mcp_http_client

        return fn(ns.http, http_client=create_mcp_http_client(headers=ns.headers))
    return fn(ns.http, headers=ns.headers)


# ----------------------------------------------------------------------------- negotiation


async def negotiate(session: Any, era: str) -> dict[str, Any]:
    """Run the connect step for `era`; return {"era", "protocol_version", "server_info"}."""
    if SDK_MAJOR < 2:
        res = await session.initialize()
        return {"era": "legacy", "protocol_version": res.protocolVersion, "server_info": dump(res.serverInfo)}

    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    if era == "legacy":
        await session.initialize()
    elif era == "auto":
        # The exact policy mcp.Client(mode="auto") runs in __aenter__.
        from mcp.client._probe import negotiate_auto

        await negotiate_auto(session)
    elif era == "modern":
        await session.discover()
    elif era in MODERN_PROTOCOL_VERSIONS:
        import mcp_types as types

        # What mcp.Client(mode=<version>) does without prior_discover.
        session.adopt(types.DiscoverResult(supported_versions=[era], capabilities=types.ServerCapabilities(),
                                           result_type="complete", ttl_ms=0, cache_scope="public"))
    else:
        raise UsageError(f"--era must be auto, legacy, modern or one of {list(MODERN_PROTOCOL_VERSIONS)}; got {era!r}")
    modern = session.discover_result is not None
    return {
        "era": "modern" if modern else "legacy",
        "protocol_version": session.protocol_version,
        "server_info": dump(session.server_info),
    }


class UsageError(Exception):
    pass


# ----------------------------------------------------------------------------- operations


async def list_all_tools(session: Any) -> list[Any]:
    tools: list[Any] = []
    cursor = None
    for _ in range(1000):
        if cursor is None:
            res = await session.list_tools()
        else:
            from mcp.types import PaginatedRequestParams

            res = await session.list_tools(params=PaginatedRequestParams(cursor=cursor))
        tools.extend(res.tools)
        cursor = getattr(res, "nextCursor", None) if SDK_MAJOR < 2 else res.next_cursor
        if not cursor:
            break
    return tools


async def call_with_input(session: Any, name: str, args: dict[str, Any], callbacks: dict[str, Any]) -> Any:
    """A modern tools/call whose server asks for input (MRTR): answer each InputRequiredResult's
    requests with the same callbacks a legacy session uses, and retry with the answers and the
    echoed request state, until a final result."""
    import mcp_types as types

    responses, state = None, None
    for _ in range(8):
        res = await session.call_tool(name, args, input_responses=responses, request_state=state,
                                      allow_input_required=True)
        if not isinstance(res, types.InputRequiredResult):
            return res
        responses = {}
        for key, request in (res.input_requests or {}).items():
            method = getattr(request, "method", None)
            if method == "elicitation/create" and "elicitation_callback" in callbacks:
                responses[key] = await callbacks["elicitation_callback"](None, request.params)
            elif method == "sampling/createMessage" and "sampling_callback" in callbacks:
                responses[key] = await callbacks["sampling_callback"](None, request.params)
            else:
                raise RuntimeError(f"the server asked for {method}, which this client was not told to answer")
        state = res.request_state
    raise RuntimeError("the server kept asking for input")


def call_result(res: Any) -> dict[str, Any]:
    d = dump(res)
    return {
        "content": d.get("content", []),
        "structuredContent": d.get("structuredContent"),
        "isError": bool(d.get("isError", False)),
    }


async def run(ns: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"sdk": "mcp", "sdk_version": SDK_VERSION}
    raw: dict[str, Any] = {}
    async with open_transport(ns) as streams:
        read_stream, write_stream = streams[0], streams[1]
        callbacks: dict[str, Any] = {}
        if ns.elicit is not None:
            out["elicited"] = elicited = []
            content = json.loads(ns.elicit)

            async def on_elicit(context: Any, params: Any) -> Any:
                import mcp.types as mt

                elicited.append(getattr(params, "message", None))
                if ns.elicit_delay > 0:
                    await anyio.sleep(ns.elicit_delay)
                return mt.ElicitResult(action="accept", content=content)

            callbacks["elicitation_callback"] = on_elicit
        if ns.sample is not None:
            out["sampled"] = sampled = []

            async def on_sample(context: Any, params: Any) -> Any:
                import mcp.types as mt

                sampled.append(dump(params.messages))
                return mt.CreateMessageResult(role="assistant", content=mt.TextContent(type="text", text=ns.sample),
                                              model="scripted", stopReason="endTurn")

            callbacks["sampling_callback"] = on_sample
        async with ClientSession(read_stream, write_stream, **callbacks) as session:
            out.update(await negotiate(session, ns.era))
            tools = await list_all_tools(session)
            out["tools"] = [t.name for t in tools]
            raw["tools"] = dump(tools)
            out["call"] = None
            if ns.progress:
                out["progress"] = progress = []
            if ns.call:
                if ns.progress:

                    async def on_progress(value: float, total: float | None, message: str | None) -> None:
                        progress.append({"progress": value, "total": total, "message": message})

                    res = await session.call_tool(ns.call, ns.tool_args, progress_callback=on_progress)
                elif callbacks and SDK_MAJOR >= 2 and session.discover_result is not None:
                    res = await call_with_input(session, ns.call, ns.tool_args, callbacks)
                else:
                    res = await session.call_tool(ns.call, ns.tool_args)
                out["call"] = call_result(res)
                raw["call"] = dump(res)
            out["read"] = None
            if ns.read:
                if SDK_MAJOR < 2:
                    from pydantic import AnyUrl

                    res = await session.read_resource(AnyUrl(ns.read))
                else:
                    res = await session.read_resource(ns.read)
                out["read"] = dump(res.contents)
                raw["read"] = dump(res)
    if ns.full:
        out["raw"] = raw
    return out


def describe(exc: BaseException) -> dict[str, Any]:
    # Unwrap anyio/TaskGroup exception groups down to the first leaf.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    err: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    error = getattr(exc, "error", None)  # McpError (1.x) / MCPError (2.x) carry ErrorData
    if error is not None and hasattr(error, "code"):
        err.update(code=error.code, message=error.message)
        if getattr(error, "data", None) is not None:
            err["data"] = error.data
    return err


def main(argv: list[str]) -> int:
    ns = parse_args(argv)
    try:
        result = anyio.run(_with_timeout, ns)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # noqa: BLE001 — report everything, including exception groups
        err = describe(e)
        print(json.dumps({"error": err}), file=sys.stderr)
        if os.environ.get("PY_CLIENT_TRACEBACK"):
            traceback.print_exception(e)
        return 2 if err["type"] == "UsageError" else 1
    print(json.dumps(result))
    return 0


async def _with_timeout(ns: argparse.Namespace) -> dict[str, Any]:
    with anyio.fail_after(ns.timeout):
        return await run(ns)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
