#!/usr/bin/env python3
"""gen_log.py — writes a large synthetic replay-results trace log for benchmarking
llmtrace-analyze (bench/analyze/run.sh): N exchange records shaped like llmtrace-replay's
(--no-bodies: no prompt or output text), E stream events each, stages 1…64, 1 % errors.
Usage: gen_log.py OUT.jsonl.gz N [EVENTS] — gzip level 1, one member per 1000 lines."""
import gzip
import random
import sys


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    n_ev = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    rng = random.Random(1)
    t0 = 1767225600000000
    hdr = ('{"type":"header","schema":1,"tool":"gen_log.py","version":"1","start_us":%d,'
           '"command":["bench/analyze/gen_log.py"],"source":{"kind":"synthetic"}}\n' % t0)
    stages = [1, 2, 4, 8, 16, 32, 64]
    with open(out, "wb") as f:
        lines = [hdr]
        t = t0
        for k in range(n):
            t += rng.randint(100, 3000)
            ttft = rng.randint(20000, 400000)
            gap = rng.randint(8000, 40000)
            ev = ",".join("[%d,1,1]" % (ttft + i * gap) for i in range(n_ev))
            end = ttft + n_ev * gap
            err = 'null' if k % 100 else '{"kind":"http_status","message":"503 overloaded"}'
            st = 503 if k % 100 == 0 else 200
            lines.append(
                '{"type":"exchange","id":"r%d","start_us":%d,"conn":"w0c%d","dialect":"openai-chat",'
                '"model":"sim-model","stream":true,"request":{"method":"POST","path":'
                '"/v1/chat/completions","host":"127.0.0.1","headers":[["content-type",'
                '"application/json"]],"body":null,"body_bytes":%d,"body_sha256":null},'
                '"response":{"status":%d,"headers":[["content-type","text/event-stream"]],'
                '"ttfb_us":%d,"end_us":%d,"events":[[%d,0,0],%s,[%d,0,0]],"text":null,'
                '"finish_reason":"length","body_bytes":%d},"usage":{"prompt_tokens":%d,'
                '"completion_tokens":%d,"cached_tokens":null},"tokens_in":%d,"tokens_out":%d,'
                '"tokens_source":"usage","error":%s,"replay":{"of":"s%d","sched_us":%d,'
                '"stage":%d,"mode":"concurrency","target":"http://127.0.0.1:8000","warmup":false,'
                '"wait_us":0,"worker":0}}\n'
                % (k, t, k % 64, rng.randint(500, 20000), st, ttft - 3000, end + 400,
                   ttft - 3000, ev, end + 200, 200 * n_ev, rng.randint(30, 3000), n_ev,
                   rng.randint(30, 3000), n_ev, err, k % 5000, t - rng.randint(0, 50),
                   stages[(k * 7) // n]))
            if len(lines) >= 1000:
                f.write(gzip.compress("".join(lines).encode(), compresslevel=1, mtime=0))
                lines = []
        lines.append('{"type":"trailer","end_us":%d,"records":%d,"errors":%d}\n'
                     % (t + 10000000, n, (n + 99) // 100))
        f.write(gzip.compress("".join(lines).encode(), compresslevel=1, mtime=0))


if __name__ == "__main__":
    main()
