#!/usr/bin/env python3
"""tls_proxy.py — a TLS front for llmtrace-sim in the replay tests: accepts TLS on 127.0.0.1
(kernel-chosen port, written to PORT_FILE) with the fixture certificate, offers only http/1.1
in ALPN, and copies bytes both ways to 127.0.0.1:BACKEND_PORT. Python's standard library only.

usage: tls_proxy.py CERT KEY BACKEND_PORT PORT_FILE"""
import asyncio
import os
import ssl
import sys


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    cert, key, backend, port_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])

    async def client(r, w):
        try:
            br, bw = await asyncio.open_connection("127.0.0.1", backend)
        except OSError:
            w.close()
            return
        await asyncio.gather(pipe(r, bw), pipe(br, w))

    srv = await asyncio.start_server(client, "127.0.0.1", 0, ssl=ctx)
    port = srv.sockets[0].getsockname()[1]
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, port_file)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    asyncio.run(main())
