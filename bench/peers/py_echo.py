"""The benchmark's minimal MCP server written with the official Python SDK (mcp 2.x; FastMCP is
now `MCPServer`): tools `echo {message}` and `add {a, b}` over Streamable HTTP at /mcp with JSON
responses. Stateful (`stateless_http=False`) so legacy clients get sessions; modern (2026-07-28)
requests carry their own `_meta` and are served without a session by the SDK.

    .peers/py2/bin/python bench/peers/py_echo.py 127.0.0.1:PORT
"""

import logging
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("py-echo", log_level="WARNING")


@server.tool()
def echo(message: str) -> str:
    """Echoes the message back."""
    return message


@server.tool()
def add(a: float, b: float) -> str:
    """Adds two numbers."""
    return str(a + b)


def main() -> None:
    host, _, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8000").rpartition(":")
    logging.disable(logging.WARNING)
    print(f"listening on http://{host}:{port}/mcp", file=sys.stderr, flush=True)
    server.run(
        "streamable-http",
        host=host,
        port=int(port),
        json_response=True,
        stateless_http=False,
        session_idle_timeout=None,
        max_sessions=None,
    )


if __name__ == "__main__":
    main()
