#!/usr/bin/env python3
"""py_client.py — the Python baseline for bench/replay: a streaming OpenAI chat client written
the way the Python serving benchmarks people use are (vLLM's benchmark_serving.py, SGLang's
bench_serving.py): aiohttp, one coroutine per request, `async for` over the response lines,
json.loads per SSE event, a perf_counter timestamp per event. It keeps N requests in flight
until M are done and prints events per CPU-second of this process, the number compared with
llmtrace-replay's in bench/results/replay.md.

usage: py_client.py URL CONCURRENCY REQUESTS MAX_TOKENS   (needs python3-aiohttp)"""
import asyncio
import json
import resource
import sys
import time

import aiohttp


async def one(session, url, max_tokens, i, stats):
    payload = {"model": "m", "stream": True, "max_tokens": max_tokens, "ignore_eos": True,
               "messages": [{"role": "user", "content": "benchmark %d" % i}]}
    t0 = time.perf_counter()
    stamps = []
    text = []
    async with session.post(url, json=payload) as resp:
        async for raw in resp.content:
            line = raw.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                continue
            ev = json.loads(data)
            stamps.append(time.perf_counter() - t0)
            for ch in ev.get("choices") or []:
                delta = ch.get("delta") or {}
                if delta.get("content"):
                    text.append(delta["content"])
    stats["events"] += len(stamps)
    stats["requests"] += 1


async def main():
    url, conc, total, max_tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    stats = {"events": 0, "requests": 0}
    sem = asyncio.Semaphore(conc)
    conn = aiohttp.TCPConnector(limit=conc)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
        async def guarded(i):
            async with sem:
                await one(session, url + "/v1/chat/completions", max_tokens, i, stats)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        w0 = time.perf_counter()
        await asyncio.gather(*(guarded(i) for i in range(total)))
        w1 = time.perf_counter()
        r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print("python aiohttp: requests %d, events %d, cpu %.2fs, wall %.2fs -> %.0f events per "
          "cpu-second (%.1f us/event), %.0f events/s wall"
          % (stats["requests"], stats["events"], cpu, w1 - w0, stats["events"] / cpu,
             1e6 * cpu / stats["events"], stats["events"] / (w1 - w0)))


if __name__ == "__main__":
    asyncio.run(main())
