#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
"""delay_proxy.py LISTEN_SOCKET UPSTREAM_SOCKET DELAY_MS

A Unix-socket relay that delays every chunk of bytes, in each direction, by
DELAY_MS milliseconds, in order and without limiting throughput: a network
link's latency between a p11-kit client and `p11-kit server`
(bench/remote.sh). Each client connection gets its own upstream connection.
Runs until killed."""
import asyncio
import os
import sys


async def pipe(reader, writer, delay):
    queue = asyncio.Queue()

    async def send():
        loop = asyncio.get_running_loop()
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.ensure_future(send())
    loop = asyncio.get_running_loop()
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            queue.put_nowait((loop.time() + delay, data))
    finally:
        queue.put_nowait((0, None))
        await sender


async def main(listen, upstream, delay):
    async def handle(creader, cwriter):
        try:
            ureader, uwriter = await asyncio.open_unix_connection(upstream)
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(pipe(creader, uwriter, delay), pipe(ureader, cwriter, delay),
                             return_exceptions=True)

    if os.path.exists(listen):
        os.unlink(listen)
    server = await asyncio.start_unix_server(handle, path=listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]) / 1000.0))
