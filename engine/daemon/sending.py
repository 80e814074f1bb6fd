"""Sending to one client (event loop): its answers first, then its utterances' stream.

The stream is what session.Client's lanes hold; this is the only code that writes to the
socket after the handshake, so frames of one client never interleave.
"""

from __future__ import annotations

import asyncio
import time

from ..api import AudioChunk
from ..errors import AudioDeviceError
from . import protocol as p
from .session import Client, Utterance


async def sender(server, client: Client) -> None:
    try:
        await _send_loop(server, client)
    finally:
        client.drained.set()  # a reply waiting for room must not wait for a closed connection


async def _send_loop(server, client: Client) -> None:
    ws = client.ws
    while True:
        await client.wakeup.wait()
        client.wakeup.clear()
        while True:
            if client.control:
                await ws.send(client.control.popleft())
                client.drained.set()
                continue
            item = client.next_item()
            if item is None:
                break
            kind, utt, payload = item
            if kind == "audio":
                await _send_audio(server, client, utt, payload)
            elif kind == "index":
                await ws.send(p.dumps(p.index_message(utt.id, payload.name, payload.sample_offset)))
            elif kind == "cancelled":
                await ws.send(p.dumps(p.done_message(utt.id, utt.samples_sent, True, utt.time_to_first_audio_ms())))
            elif kind == "done":
                server.finish(utt)
                await ws.send(p.dumps(p.finished_message(utt.id, utt.samples_sent, payload,
                                                         utt.time_to_first_audio_ms())))
            elif kind == "error":
                server.finish(utt)
                await ws.send(p.dumps(p.error_message(utt.id, p.error_code(payload), str(payload))))


async def _send_audio(server, client: Client, utt: Utterance, chunk: AudioChunk) -> None:
    try:
        if utt.over:
            return
        if utt.first_audio is None:
            utt.first_audio = time.perf_counter()
        if utt.playback == "daemon":
            async with server.player_lock:
                try:
                    await asyncio.to_thread(server.player().write, chunk.pcm)
                except AudioDeviceError as exc:
                    if not utt.over:
                        server.cancel(utt)
                        client.outbox = type(client.outbox)(
                            i for i in client.outbox if not (i[0] == "cancelled" and i[1] is utt))
                        client.push("error", utt, exc)
                    return
        else:
            await client.ws.send(p.audio_frame(utt.number, utt.seq, chunk.sample_offset, chunk.pcm, server.sample_rate))
        utt.seq += 1
        utt.samples_sent += chunk.samples
    finally:
        server.release(client, chunk.samples)
