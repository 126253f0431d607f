#!/usr/bin/python3
"""tests/interop/mktrace.py — input traces for the interop tests (trace logs per
formats/SCHEMA.md, written with gzip + json).

  mktrace.py keepalive OUT --timeout T [--bursts N] [--width W] [--spacing-us S] [--tokens K]
      Bursts of W requests (S µs apart, so each gets its own connection) separated by gaps
      around the server's keep-alive timeout T: the next burst reuses the idle connections
      just before, at and just after the moment the server closes them (RFC 9112 §9.3.1's
      race). The gaps cycle through 0.9 T, 0.95 T, T − 5 ms … T + 12 ms in 1 ms steps, 1.05 T
      and 1.1 T, each plus the time a response takes (K tokens).
  mktrace.py mixed OUT --n N [--path chat|completions|both] [--max-tokens M] [--usage on|off|mixed]
                   [--fixed]
      N requests (for closed loop; all recorded at once): chat and/or completions, output
      lengths 1…M with ignore_eos on 3 of 4 (the rest stop at the server's own length; --fixed:
      all M with ignore_eos),
      stream_options.include_usage on, off or on every other request, prompts of 1–40 words
      with some non-ASCII text.
Every request streams; `tokens_out` is the intended output length (for --max-tokens original).
"""
import argparse
import gzip
import json
import sys

T0 = 1700000000000000
WORDS = ("the quick brown fox jumps over the lazy dog while naïve café owners in 東京 "
         "watch").split()


def body(path, i, max_tokens, ignore_eos, usage, words):
    text = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(words)) + " #%d" % i
    b = {"model": "interop", "stream": True, "max_tokens": max_tokens}
    if path == "/v1/chat/completions":
        b["messages"] = [{"role": "user", "content": text}]
    else:
        b["prompt"] = text
    if ignore_eos:
        b["ignore_eos"] = True
    if usage:
        b["stream_options"] = {"include_usage": True}
    return b


def write(out, items):
    with gzip.open(out, "wt", encoding="utf-8") as f:
        f.write(json.dumps({"type": "header", "schema": 1, "tool": "mktrace.py", "version": "1",
                            "start_us": T0}) + "\n")
        for n, (off, path, b, tokens_out) in enumerate(items):
            f.write(json.dumps({"type": "exchange", "id": "in%d" % n, "start_us": T0 + off,
                                "request": {"method": "POST", "path": path, "headers": [],
                                            "body": b},
                                "response": {"status": 200, "events": []},
                                "tokens_out": tokens_out, "tokens_source": "usage",
                                "error": None}, ensure_ascii=False) + "\n")


def keepalive(a):
    t = int(a.timeout * 1e6)
    resp_us = 2000 + a.tokens * 200  # a rough response time of the Python server
    gaps = [int(0.9 * t), int(0.95 * t)] + [t + d * 1000 for d in range(-5, 13)] + \
           [int(1.05 * t), int(1.1 * t)]
    items, start = [], 0
    paths = ["/v1/chat/completions", "/v1/completions"]
    for k in range(a.bursts):
        if k:
            start += gaps[(k - 1) % len(gaps)] + resp_us
        for w in range(a.width):
            i = len(items)
            p = paths[i % 2]
            items.append((start + w * a.spacing_us, p,
                          body(p, i, a.tokens, True, i % 4 < 2, 3 + i % 5), a.tokens))
    write(a.out, items)


def mixed(a):
    paths = {"chat": ["/v1/chat/completions"], "completions": ["/v1/completions"],
             "both": ["/v1/chat/completions", "/v1/completions"]}[a.path]
    items = []
    for i in range(a.n):
        p = paths[i % len(paths)]
        mt = a.max_tokens if a.fixed else 1 + (i * 7) % a.max_tokens
        usage = {"on": True, "off": False, "mixed": (i // len(paths)) % 2 == 0}[a.usage]
        eos = a.fixed or i % 4 != 3
        items.append((0, p, body(p, i, mt, eos, usage, 1 + (i * 13) % 40), mt))
    write(a.out, items)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keepalive")
    k.add_argument("out")
    k.add_argument("--timeout", type=float, required=True, help="server keep-alive, seconds")
    k.add_argument("--bursts", type=int, default=10)
    k.add_argument("--width", type=int, default=8)
    k.add_argument("--spacing-us", type=int, default=250)
    k.add_argument("--tokens", type=int, default=4)
    m = sub.add_parser("mixed")
    m.add_argument("out")
    m.add_argument("--n", type=int, required=True)
    m.add_argument("--path", choices=["chat", "completions", "both"], default="both")
    m.add_argument("--max-tokens", type=int, default=48)
    m.add_argument("--usage", choices=["on", "off", "mixed"], default="mixed")
    m.add_argument("--fixed", action="store_true",
                   help="every request max_tokens M with ignore_eos (the issue's llama.cpp run)")
    a = ap.parse_args()
    if getattr(a, "bursts", 1) < 1 or getattr(a, "n", 1) < 1:
        sys.exit("mktrace.py: counts must be positive")
    keepalive(a) if a.cmd == "keepalive" else mixed(a)


if __name__ == "__main__":
    main()
