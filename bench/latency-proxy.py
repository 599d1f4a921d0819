#!/usr/bin/env python3
"""bench/latency-proxy.py -- a TCP proxy that delays each direction.

    latency-proxy.py --connect HOST:PORT [--listen HOST:PORT]
                     [--delay-ms 10] [--port-file FILE]

Accepts connections on --listen (default 127.0.0.1:0, a free port) and
relays each to --connect.  Every chunk of bytes is passed on --delay-ms
milliseconds after it arrived, in each direction, so the round-trip time
seen through the proxy is 2 x --delay-ms (10 ms one way: 20 ms RTT).
Order is kept and the delay does not throttle throughput: while a chunk
waits, later chunks are read already (a link with latency, not a slow
link).  EOF (half-close) is delayed the same way.  TCP_NODELAY on both
sides, so the proxy adds no Nagle delay of its own.

Prints "listening HOST PORT" on stdout once ready (and writes PORT to
--port-file if given); runs until SIGTERM/SIGINT.  Stdlib only (asyncio).

What it cannot emulate: the TCP ACKs a client sees come from the proxy's
end at loopback speed, so effects of the sender's Nagle algorithm and
delayed ACKs over a real 20 ms path are not reproduced; a request-response
exchange (POP3 command, reply) does see the full 20 ms round trip.
"""

import argparse
import asyncio
import os
import selectors
import signal
import socket
import sys


# The event loop runs on select(), whose timeout has microsecond resolution
# (asyncio's default epoll/poll selectors round every timeout up to the next
# millisecond: up to 1 ms late per hop).  Waking up and relaying still takes
# about 0.4 ms here: aim that much early, so that the delay comes out at
# --delay-ms (measured: 20.0-20.3 ms RTT through the proxy at 10 ms).
EARLY = 0.0004


def hostport(s):
    host, _, port = s.rpartition(":")
    return host or "127.0.0.1", int(port)


async def pump(reader, writer, delay, done):
    """Copy reader to writer, each chunk delay seconds after it arrived."""
    loop = asyncio.get_running_loop()
    q = asyncio.Queue()

    async def rd():
        try:
            while True:
                data = await reader.read(262144)
                q.put_nowait((loop.time() + delay - EARLY, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            q.put_nowait((loop.time(), None))

    async def wr():
        try:
            while True:
                due, data = await q.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:            # the reading side broke
                    writer.transport.abort()
                    return
                if not data:                # EOF: pass the half-close on
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass

    rt = asyncio.ensure_future(rd())
    try:
        await wr()
    finally:
        rt.cancel()
        done()


async def handle(cr, cw, target, delay):
    try:
        sr, sw = await asyncio.open_connection(*target)
    except OSError as e:
        print("latency-proxy: connect %s:%d: %s" % (target + (e,)),
              file=sys.stderr)
        cw.close()
        return
    for w in (cw, sw):
        sock = w.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    left = [2]

    def done():
        left[0] -= 1
        if left[0] == 0:
            cw.close()
            sw.close()

    try:
        await asyncio.gather(pump(cr, sw, delay, done),
                             pump(sr, cw, delay, done))
    except asyncio.CancelledError:      # shutting down
        pass
    finally:
        cw.close()
        sw.close()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--connect", required=True)
    ap.add_argument("--delay-ms", type=float, default=10.0,
                    help="one-way delay per direction (default 10: RTT 20)")
    ap.add_argument("--port-file")
    a = ap.parse_args()
    target = hostport(a.connect)
    delay = a.delay_ms / 1000.0
    lhost, lport = hostport(a.listen)
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, target, delay), lhost, lport,
        reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(a.port_file + ".tmp", a.port_file)
    print("listening %s %d" % (lhost, port), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    me = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not me]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(main())
    except KeyboardInterrupt:
        pass
    finally:
        loop.close()
