"""Response bodies into a :class:`~bale.remotes.store.Sink`, uncopied.

aiohttp hands a body over in the pieces the socket delivered (tens of KiB).
A worker-thread call per piece costs more than the piece's write, and
joining pieces into larger blocks copies every byte once more (a second of
a core per 2 GiB here); so pieces are gathered into batches of about
:data:`BATCH` bytes and each batch goes to the sink in one call, as a list.
"""

from __future__ import annotations

import asyncio

import aiohttp

from bale.remotes.store import Progress, Sink

BATCH = 1 << 20


async def receive(
    content: aiohttp.StreamReader, out: Sink, offset: int, progress: Progress | None
) -> int:
    """Writes the rest of ``content`` into ``out`` from ``offset``; returns its length."""
    start = offset
    batch: list[bytes] = []
    held = 0

    async def flush() -> None:
        nonlocal offset, batch, held
        await asyncio.to_thread(out.writev, batch, offset)
        offset += held
        if progress is not None:
            progress(held)
        batch, held = [], 0

    async for data in content.iter_any():
        batch.append(data)
        held += len(data)
        if held >= BATCH:
            await flush()
    if batch:
        await flush()
    return offset - start
