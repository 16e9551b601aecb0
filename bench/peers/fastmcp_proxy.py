"""A published MCP gateway for bench/gateway_floor.sh: FastMCP's proxy server (PyPI `fastmcp`) in
front of the upstream at argv[2], served over Streamable HTTP at 127.0.0.1:argv[1]/mcp.
argv[3] == "shared": one connected backend client shared by every call (FastMCP's faster, less
isolated mode); else its default, a fresh backend session per request."""
import asyncio
import sys

from fastmcp import Client
from fastmcp.server.server import create_proxy


async def main() -> None:
    port, url = int(sys.argv[1]), sys.argv[2]
    run = dict(transport="http", host="127.0.0.1", port=port, path="/mcp", show_banner=False, log_level="warning")
    if sys.argv[3:] == ["shared"]:
        async with Client(url) as client:
            await create_proxy(client, name="fastmcp-proxy").run_async(**run)
    else:
        await create_proxy(url, name="fastmcp-proxy").run_async(**run)


asyncio.run(main())
