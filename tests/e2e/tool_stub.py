#!/usr/bin/python3
"""tool_stub.py — a tiny OpenAI-chat endpoint for the session tests: it answers a request whose
last message is the user's with one tool call (id "live_N", name "lookup", arguments
{"n": N}), and any other with the text "answer N", N counting requests from 1, streamed as
chat.completion.chunk SSE events. Each request body is appended to LOG as one JSON line.

usage: tool_stub.py PORT_FILE LOG
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT_FILE, LOG = sys.argv[1], sys.argv[2]
COUNT = [0]


def chunk(delta, finish=None):
    c = {"id": "stub", "object": "chat.completion.chunk", "model": "stub",
         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return "data: " + json.dumps(c) + "\n\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(LOG, "a") as f:
            f.write(body.decode() + "\n")
        req = json.loads(body)
        COUNT[0] += 1
        n = COUNT[0]
        if req["messages"][-1]["role"] == "user":
            events = [chunk({"role": "assistant", "content": None,
                             "tool_calls": [{"index": 0, "id": "live_%d" % n, "type": "function",
                                             "function": {"name": "lookup", "arguments": ""}}]}),
                      chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"n\": "}}]}),
                      chunk({"tool_calls": [{"index": 0, "function": {"arguments": "%d}" % n}}]}),
                      chunk({}, "tool_calls")]
        else:
            events = [chunk({"role": "assistant", "content": ""}),
                      chunk({"content": "answer "}), chunk({"content": str(n)}),
                      chunk({}, "stop")]
        out = ("".join(events) + "data: [DONE]\n\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(PORT_FILE + ".tmp", PORT_FILE)
srv.serve_forever()
