#!/usr/bin/env python3
"""gen_sample_trace.py — writes examples/sample_trace.jsonl.gz, the small trace `make demo`
replays: 300 OpenAI chat requests with prompts of varied length, Poisson arrivals and recorded
output lengths, in the trace-log format (gzip JSON Lines, formats/SCHEMA.md). No external data: prompts are built from the phrase lists below with a fixed
seed, so the output is byte-for-byte reproducible (gzip mtime 0).

Usage: python3 examples/gen_sample_trace.py [OUT] [--requests N] [--seed S]
"""
import gzip
import io
import json
import math
import random
import sys

TOPICS = ["a sourdough starter", "the TCP three-way handshake", "photosynthesis",
          "a binary search tree", "the French revolution", "compound interest",
          "garbage collection in Go", "the water cycle", "a Kalman filter", "vector databases",
          "the Monty Hall problem", "KV-cache reuse in LLM serving", "how vaccines work",
          "Rust lifetimes", "the CAP theorem", "a good code review", "plate tectonics"]
ASKS = ["Explain {t} to a new engineer.", "Write a short poem about {t}.",
        "Summarize the key ideas behind {t} in five bullet points.",
        "What are common misconceptions about {t}?", "Give me a step-by-step guide to {t}.",
        "Compare {t} with something from everyday life.", "Write a haiku about {t}."]
FILLER = ("Here is some context from our internal notes that may help: the team has been "
          "discussing this for a while, and several people raised questions about edge cases, "
          "performance under load, and how to explain it to customers clearly. ")
SYSTEM = "You are a helpful assistant. Answer precisely and keep a friendly tone."


def words(s):
    return len(s.split())


def main():
    args = sys.argv[1:]
    out = "examples/sample_trace.jsonl.gz"
    n, seed = 300, 42
    i = 0
    while i < len(args):
        if args[i] == "--requests":
            n = int(args[i + 1]); i += 2
        elif args[i] == "--seed":
            seed = int(args[i + 1]); i += 2
        else:
            out = args[i]; i += 1
    rng = random.Random(seed)
    t0 = 1767225600000000  # 2026-01-01T00:00:00Z, epoch µs
    header = {"type": "header", "schema": 1, "tool": "gen_sample_trace.py", "version": "1",
              "start_us": t0, "command": ["examples/gen_sample_trace.py"],
              "source": {"kind": "synthetic", "generator": "examples/gen_sample_trace.py",
                         "seed": seed, "requests": n}}
    lines = [json.dumps(header, separators=(",", ":"))]
    t = t0
    for k in range(n):
        t += int(rng.expovariate(4.0) * 1e6)  # Poisson arrivals, 4 req/s on average
        ask = rng.choice(ASKS).format(t=rng.choice(TOPICS))
        # Prompt length: log-normal number of context paragraphs (0 … ~30).
        paras = min(30, int(rng.lognormvariate(0.7, 1.0)))
        user = (FILLER * paras) + ask
        msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
        if rng.random() < 0.25:  # some multi-turn chats
            msgs.insert(1, {"role": "user", "content": "Hi, quick question first."})
            msgs.insert(2, {"role": "assistant", "content": "Sure, go ahead."})
        n_in = int(round(sum(words(m["content"]) for m in msgs) * 1.3)) + 4 * len(msgs)
        n_out = max(8, min(400, int(rng.lognormvariate(math.log(90), 0.7))))
        # Recorded timing of the original endpoint: prefill ∝ prompt, ~25 ms per token.
        ttft = int(40000 + n_in * 60 + rng.uniform(0, 20000))
        ev = [[ttft - 2000, 0, 0]]
        off = ttft
        for _ in range(n_out):
            ev.append([off, 1, 1])
            off += int(rng.uniform(18000, 32000))
        end = off + 500
        ev.append([end - 300, 0, 0])
        body = {"model": "sim-model", "messages": msgs, "max_tokens": n_out, "stream": True,
                "stream_options": {"include_usage": True}}
        rec = {"type": "exchange", "id": "s%04d" % k, "start_us": t, "dialect": "openai-chat",
               "model": "sim-model", "stream": True,
               "request": {"method": "POST", "path": "/v1/chat/completions", "host": "prod.example",
                           "headers": [["content-type", "application/json"],
                                       ["authorization", "<redacted>"]], "body": body},
               "response": {"status": 200, "headers": [["content-type", "text/event-stream"]],
                            "ttfb_us": ttft - 2000, "end_us": end, "events": ev,
                            "finish_reason": "length"},
               "usage": {"prompt_tokens": n_in, "completion_tokens": n_out},
               "tokens_in": n_in, "tokens_out": n_out, "tokens_source": "usage", "error": None}
        lines.append(json.dumps(rec, separators=(",", ":")))
    lines.append(json.dumps({"type": "trailer", "end_us": t + 60000000, "records": n,
                             "errors": 0}, separators=(",", ":")))
    # A series of gzip members of whole lines, 100 lines each, as the trace-log writer does.
    raw = io.BytesIO()
    for i in range(0, len(lines), 100):
        chunk = ("\n".join(lines[i:i + 100]) + "\n").encode()
        raw.write(gzip.compress(chunk, compresslevel=6, mtime=0))
    with open(out, "wb") as f:
        f.write(raw.getvalue())


if __name__ == "__main__":
    main()
