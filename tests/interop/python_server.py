"""An MCP server written with the official Python SDK, for the client interop tests.

Runs with mcp 2.x (`MCPServer`, both eras) or 1.x (`FastMCP`, legacy only):

    python python_server.py stdio
    python python_server.py http PORT        # Streamable HTTP at http://127.0.0.1:PORT/mcp
"""

import sys

from pydantic import BaseModel

try:  # mcp 2.x
    from mcp.server.mcpserver import Context, MCPServer as Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import Context, FastMCP as Server

server = Server("python-interop")


@server.tool()
def echo(message: str) -> str:
    """Echoes the message back."""
    return f"echo: {message}"


@server.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@server.tool()
async def countdown(steps: int, ctx: Context) -> str:
    """Reports progress once per step."""
    for i in range(1, steps + 1):
        await ctx.report_progress(i, steps, f"step {i}")
    return f"counted {steps} steps"


class Confirmation(BaseModel):
    confirmed: bool
    note: str = "none"


@server.tool()
async def confirm(question: str, ctx: Context) -> str:
    """Asks the user to confirm (elicitation)."""
    answer = await ctx.elicit(question, Confirmation)
    if answer.action == "accept" and answer.data is not None:
        return f"confirmed={answer.data.confirmed} note={answer.data.note}"
    return f"action={answer.action}"


@server.resource("info://about")
def about() -> str:
    """What this server is."""
    return "a Python SDK server for interop tests"


@server.prompt()
def greet(name: str) -> str:
    """Greets someone."""
    return f"Say hello to {name}."


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        port = int(sys.argv[2])
        if hasattr(server.settings, "host"):  # mcp 1.x
            server.settings.host, server.settings.port = "127.0.0.1", port
            server.run(transport="streamable-http")
        else:  # mcp 2.x
            server.run(transport="streamable-http", host="127.0.0.1", port=port)
    else:
        server.run()
