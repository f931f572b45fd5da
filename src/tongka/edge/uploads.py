"""Uploaded files, streamed: never the whole file in memory.

An API upload is the request body itself (``spool_body``): read as it arrives, in the
server's pieces, into a temporary file that stays in memory up to ``IN_MEMORY`` bytes and
moves to disk beyond. The spooled file is kept on the request's scope, so an attempt that
a ``UnitOfWorkRoute`` runs again (a serialization failure) reads the same file from its
start instead of a body that was already consumed. A console upload is a multipart
form's file (Starlette spools it the same way); ``pieces`` reads either back in 1 MiB
pieces for the streamed parsers.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from typing import IO

from starlette.requests import Request

# The routes that take a statement file: the body-size middleware gives them their own
# limit (``Settings.max_statement_upload_bytes``).
STATEMENTS_PATH = "/v1/reconciliation_statements"
CONSOLE_STATEMENTS_PATH = "/console/reconciliation_statements"
IN_MEMORY = 1 << 20
PIECE = 1 << 20
_SCOPE_KEY = "tongka.upload"


async def spool_body(request: Request) -> IO[bytes]:
    """The request's body in a temporary file, rewound (closed with the request)."""
    spooled: IO[bytes] | None = request.scope.get(_SCOPE_KEY)
    if spooled is None:
        spooled = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115
        async for piece in request.stream():
            spooled.write(piece)
        request.scope[_SCOPE_KEY] = spooled
    spooled.seek(0)
    return spooled


def close_spooled(request: Request) -> None:
    spooled: IO[bytes] | None = request.scope.pop(_SCOPE_KEY, None)
    if spooled is not None:
        spooled.close()


def size_of(file: IO[bytes]) -> int:
    """The file's size (it is left rewound)."""
    size = file.seek(0, 2)
    file.seek(0)
    return size


def pieces(file: IO[bytes], advance: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """The file from its start in ``PIECE``-byte pieces."""
    file.seek(0)
    while piece := file.read(PIECE):
        if advance is not None:
            advance(len(piece))
        yield piece
