"""An uploaded body is spooled as it arrives: in memory up to 1 MiB, on disk beyond;
read back from its start in pieces; a second attempt reads the same file again."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Message

from tongka.edge.uploads import IN_MEMORY, PIECE, close_spooled, pieces, size_of, spool_body

PART = b"x" * 65_536


def _request(parts: int) -> Request:
    messages = [
        {"type": "http.request", "body": PART, "more_body": index < parts - 1}
        for index in range(parts)
    ]

    async def receive() -> Message:
        return messages.pop(0)

    return Request({"type": "http", "method": "POST", "headers": [], "path": "/"}, receive)


async def test_a_large_body_goes_to_disk_and_is_read_in_pieces() -> None:
    request = _request(parts=48)  # 3 MiB
    spooled = await spool_body(request)
    assert size_of(spooled) == 48 * len(PART) > IN_MEMORY
    assert spooled._rolled  # type: ignore[attr-defined]  # on disk, not in memory
    read = [len(piece) for piece in pieces(spooled)]
    assert read == [PIECE, PIECE, PIECE]
    # a retried attempt gets the same file from its start (the body cannot be read twice)
    again = await spool_body(request)
    assert again is spooled
    assert sum(len(piece) for piece in pieces(again)) == 48 * len(PART)
    close_spooled(request)
    assert spooled.closed


async def test_a_small_body_stays_in_memory() -> None:
    spooled = await spool_body(_request(parts=2))
    assert not spooled._rolled  # type: ignore[attr-defined]
    assert b"".join(pieces(spooled)) == PART * 2
