"""A small MCP server of the tests' own (FastMCP, ``MCPServer`` in mcp 2.x): a notes service.

Run as a real subprocess by the tests: ``python notes_server.py`` serves stdio,
``python notes_server.py --http PORT`` serves streamable HTTP on 127.0.0.1:PORT/mcp.
Six real tools and one with a uselessly vague description (``ping``), which
the harvest filters drop with reason ``vague_description``.
"""

from __future__ import annotations

import sys

try:  # mcp 2.x renamed FastMCP to MCPServer
    from mcp.server.mcpserver import MCPServer as FastMCP
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP

INSTRUCTIONS = "A personal notes service: notebooks hold notes, which can be tagged and searched."
NOTEBOOKS = {"nb-1": "Work", "nb-2": "Travel"}
NOTES = {"n-1": ("nb-1", "Standup", "Ship the release"), "n-2": ("nb-2", "Lisbon", "Book hotel")}

server = FastMCP("notes", instructions=INSTRUCTIONS)


@server.tool()
def list_notebooks() -> dict:
    """List every notebook with its id and title."""
    return {"notebooks": [{"id": key, "title": title} for key, title in NOTEBOOKS.items()]}


@server.tool()
def list_notes(notebook_id: str) -> dict:
    """List the notes of one notebook (ids and titles)."""
    return {"notes": [{"id": key, "title": note[1]} for key, note in NOTES.items()
                      if note[0] == notebook_id]}


@server.tool()
def get_note(note_id: str) -> dict:
    """Read one note: its title, body and notebook."""
    notebook, title, body = NOTES[note_id]
    return {"id": note_id, "notebook_id": notebook, "title": title, "body": body}


@server.tool()
def create_note(notebook_id: str, title: str, body: str) -> dict:
    """Create a note in a notebook and return its new id."""
    return {"id": f"n-{len(NOTES) + 1}", "notebook_id": notebook_id, "title": title}


@server.tool()
def tag_note(note_id: str, tag: str) -> dict:
    """Add a tag to an existing note."""
    return {"id": note_id, "tags": [tag]}


@server.tool()
def search_notes(query: str) -> dict:
    """Search the titles and bodies of all notes for a phrase."""
    return {"notes": [key for key, note in NOTES.items() if query.lower() in " ".join(note[1:])]}


@server.tool()
def ping() -> str:
    """Ping."""
    return "pong"


def main() -> None:
    """Serve stdio, or streamable HTTP with ``--http PORT``."""
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        port = int(sys.argv[2])
        try:
            server.run("streamable-http", host="127.0.0.1", port=port)
        except TypeError:  # mcp 1.x: host and port are settings
            server.settings.host, server.settings.port = "127.0.0.1", port
            server.run("streamable-http")
    else:
        server.run()


if __name__ == "__main__":
    main()
