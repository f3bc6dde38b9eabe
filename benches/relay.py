#!/usr/bin/env python3
"""Counting TCP relay for benchmarks and cross-checks.

Usage: relay.py LISTEN_PORT TARGET_PORT COUNT_FILE

Listens on 127.0.0.1:LISTEN_PORT, forwards every accepted connection to 127.0.0.1:TARGET_PORT and
rewrites COUNT_FILE after each accept and each close with one line "ACCEPTED PEAK": the TCP
connections accepted so far and the most that were open at once. SIGUSR1 resets both (to 0 and
to the connections open now) and rewrites COUNT_FILE. Loopback only; runs until killed.
"""
import asyncio
import signal
import sys

LISTEN, TARGET, COUNT_FILE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
accepted = 0
open_now = 0
peak = 0


def publish():
    # Written synchronously on the event loop, so a reader never sees a count that goes back.
    with open(COUNT_FILE, "w") as f:
        f.write(f"{accepted} {peak}\n")


async def pipe(reader, writer):
    """Copies one direction; on EOF passes the half-close on instead of dropping the other way."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        # A reset on one side ends both, or the other direction would wait forever.
        writer.close()


async def handle(client_reader, client_writer):
    global accepted, open_now, peak
    accepted += 1
    open_now += 1
    peak = max(peak, open_now)
    publish()
    try:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", TARGET)
        except OSError:
            return
        try:
            await asyncio.gather(
                pipe(client_reader, server_writer), pipe(server_reader, client_writer)
            )
        finally:
            server_writer.close()
    finally:
        client_writer.close()
        open_now -= 1
        publish()


def reset():
    global accepted, peak
    accepted, peak = 0, open_now
    publish()


async def main():
    publish()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, reset)
    server = await asyncio.start_server(handle, "127.0.0.1", LISTEN, backlog=1024)
    async with server:
        await server.serve_forever()


asyncio.run(main())
