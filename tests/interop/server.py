#!/usr/bin/python3
"""tests/interop/server.py — an OpenAI-compatible streaming server on FastAPI + uvicorn, the HTTP
stack vLLM's OpenAI server runs on, with vLLM's stream shapes, deterministic output lengths and
its own log of every request (the server's view for tests/interop/check.py).

The chunk shapes follow vLLM (github.com/vllm-project/vllm, commit 003fe59,
vllm/entrypoints/openai/serving_chat.py `chat_completion_stream_generator`; and
serving_completion.py `completion_stream_generator`, commit 00463e6):
  chat:        a role chunk (`delta: {"role": "assistant", "content": ""}`), one chunk per token
               (`delta: {"content": …}`), the last token's chunk carrying `finish_reason`;
  completions: one chunk per token (`text`), the last carrying `finish_reason`, every field
               present (vLLM dumps them with `exclude_unset=False`);
  both:        when `stream_options.include_usage` is true, a final chunk with `"choices": []`
               and `usage` (`exclude_none`), then `data: [DONE]`.
The connection policy is uvicorn's own: vLLM runs `uvicorn` with `timeout_keep_alive` =
VLLM_HTTP_TIMEOUT_KEEP_ALIVE (5 s; vllm/entrypoints/openai/api_server.py, vllm/envs.py). uvicorn
sends no `Keep-Alive` header and closes a connection idle for that long — the close a client
can race with its next request (RFC 9112 §9.3.1). `--keep-alive` sets it (fractions allowed).

Tokens (deterministic, no model): the prompt has one token per whitespace-separated word, plus
2 per chat message (role markers). The output has `max_tokens` (chat: `max_completion_tokens`
first; default 16) tokens when `ignore_eos` is true, else min(max_tokens, 1 + sha256(prompt)[0]
% 24) — ending with finish_reason "stop" when shorter than max_tokens, "length" otherwise. One
token = one streamed chunk; no end-of-sequence token is streamed or counted.

Log (`--log FILE`, JSON Lines, one line per request, written when its response ends): `id` (the
X-Request-Id header, null without one), `path`, `client` ("ip:port" of the connection), `t_recv_us`
and `t_end_us` (epoch µs), `status`, `stream`, `include_usage`, `max_tokens`, `ignore_eos`,
`prompt_tokens`, `completion_tokens` (tokens actually sent), `content_chunks`, `finish_reason`,
`disconnected` (the client went away before the end), `error` (message of a 4xx, else null).
"""
import argparse
import asyncio
import hashlib
import json
import os
import socket
import sys
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
import uvicorn

WORDS = [" alpha", " beta", " gamma", " delta", " river", " stone", " naïve", " 東京", " fox",
         " cold", " green", " reply", " stream", " token", " east", " west"]
DEFAULT_MAX_TOKENS = 16
MODEL = "interop"

app = FastAPI()
opts = argparse.Namespace(token_ms=0.0, ttft_ms=0.0, log=None)
_log_file = None


def now_us():
    return time.time_ns() // 1000


def log_request(rec):
    if _log_file is not None:
        _log_file.write(json.dumps(rec, ensure_ascii=False) + "\n")
        _log_file.flush()


def error_response(status, message, rec):
    # vLLM's ErrorResponse (vllm/entrypoints/openai/protocol.py)
    rec.update(status=status, error=message, t_end_us=now_us())
    log_request(rec)
    return JSONResponse(status_code=status, content={
        "object": "error", "message": message, "type": "BadRequestError", "param": None,
        "code": status})


def prompt_of(path, body):
    """(prompt text used for the output length, prompt token count) or raises ValueError."""
    if path.endswith("/chat/completions"):
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise ValueError("'messages' must be a non-empty list")
        texts = []
        for m in msgs:
            c = m.get("content") if isinstance(m, dict) else None
            if isinstance(c, list):  # content parts
                c = " ".join(p.get("text", "") for p in c if isinstance(p, dict))
            if not isinstance(c, str):
                raise ValueError("each message needs a string 'content'")
            texts.append(c)
        text = "\n".join(texts)
        return text, len(text.split()) + 2 * len(msgs)
    p = body.get("prompt")
    if isinstance(p, list) and all(isinstance(x, str) for x in p) and p:
        p = " ".join(p)
    if not isinstance(p, str):
        raise ValueError("'prompt' must be a string")
    return p, len(p.split())


def output_length(prompt, max_tokens, ignore_eos):
    if ignore_eos:
        return max_tokens, "length"
    natural = 1 + hashlib.sha256(prompt.encode()).digest()[0] % 24
    if natural < max_tokens:
        return natural, "stop"
    return max_tokens, "length"


def token_text(prompt, i):
    h = hashlib.sha256(("%s|%d" % (prompt, i)).encode()).digest()
    return WORDS[h[0] % len(WORDS)]


def sse(obj):
    return "data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n\n"


async def generate(chat, rid, created, prompt, n, finish, usage, include_usage, rec):
    kind = "chat.completion.chunk" if chat else "text_completion"
    head = {"id": rid, "object": kind, "created": created, "model": MODEL}
    sent = 0
    try:
        if chat:
            role = {"role": "assistant", "content": ""}
            yield sse(dict(head, choices=[{"index": 0, "delta": role, "logprobs": None,
                                           "finish_reason": None}]))
        if opts.ttft_ms > 0:
            await asyncio.sleep(opts.ttft_ms / 1000)
        for i in range(n):
            if i and opts.token_ms > 0:
                await asyncio.sleep(opts.token_ms / 1000)
            text = token_text(prompt, i)
            fin = finish if i == n - 1 else None
            if chat:
                choice = {"index": 0, "delta": {"content": text}, "logprobs": None,
                          "finish_reason": fin}
                if fin is not None:
                    choice["stop_reason"] = None
                yield sse(dict(head, choices=[choice]))
            else:
                yield sse(dict(head, choices=[{"index": 0, "text": text, "logprobs": None,
                                               "finish_reason": fin, "stop_reason": None,
                                               "prompt_token_ids": None, "token_ids": None}],
                               usage=None))
            sent += 1
            rec["completion_tokens"] = rec["content_chunks"] = sent
        if include_usage:
            yield sse(dict(head, choices=[], usage=usage))
        yield "data: [DONE]\n\n"
        rec["finish_reason"] = finish
    except BaseException:
        rec["disconnected"] = True
        raise
    finally:
        rec["t_end_us"] = now_us()
        log_request(rec)


async def complete(request: Request, chat: bool):
    peer = request.client
    rec = {"id": request.headers.get("x-request-id"), "path": request.url.path,
           "client": "%s:%d" % (peer.host, peer.port) if peer else None,
           "t_recv_us": now_us(), "t_end_us": None, "status": 200, "stream": None,
           "include_usage": None, "max_tokens": None, "ignore_eos": None, "prompt_tokens": None,
           "completion_tokens": 0, "content_chunks": 0, "finish_reason": None,
           "disconnected": False, "error": None}
    raw = await request.body()
    try:
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        prompt, n_in = prompt_of(request.url.path, body)
        mt = body.get("max_completion_tokens") if chat else None
        if mt is None:
            mt = body.get("max_tokens", DEFAULT_MAX_TOKENS)
        if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1 or mt > 100000:
            raise ValueError("max_tokens must be an integer in 1..100000")
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        return error_response(400, str(e), rec)
    ignore_eos = body.get("ignore_eos") is True
    stream = body.get("stream") is True
    so = body.get("stream_options")
    include_usage = stream and isinstance(so, dict) and so.get("include_usage") is True
    n, finish = output_length(prompt, mt, ignore_eos)
    rec.update(stream=stream, include_usage=include_usage, max_tokens=mt, ignore_eos=ignore_eos,
               prompt_tokens=n_in)
    usage = {"prompt_tokens": n_in, "total_tokens": n_in + n, "completion_tokens": n}
    created = int(time.time())
    rid = ("chatcmpl-" if chat else "cmpl-") + hashlib.sha256(
        ("%s|%d" % (rec["id"], rec["t_recv_us"])).encode()).hexdigest()[:32]
    if stream:
        return StreamingResponse(generate(chat, rid, created, prompt, n, finish, usage,
                                          include_usage, rec), media_type="text/event-stream")
    if opts.ttft_ms > 0 or opts.token_ms > 0:
        await asyncio.sleep((opts.ttft_ms + opts.token_ms * max(n - 1, 0)) / 1000)
    text = "".join(token_text(prompt, i) for i in range(n))
    if chat:
        choice = {"index": 0, "message": {"role": "assistant", "content": text},
                  "logprobs": None, "finish_reason": finish, "stop_reason": None}
    else:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish,
                  "stop_reason": None}
    rec.update(completion_tokens=n, content_chunks=0, finish_reason=finish, t_end_us=now_us())
    log_request(rec)
    return JSONResponse({"id": rid, "object": "chat.completion" if chat else "text_completion",
                         "created": created, "model": MODEL, "choices": [choice], "usage": usage})


@app.post("/v1/chat/completions")
async def chat_completions(request: Request):
    return await complete(request, True)


@app.post("/v1/completions")
async def completions(request: Request):
    return await complete(request, False)


@app.get("/health")
async def health():
    return {}


@app.get("/v1/models")
async def models():
    return {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "interop"}]}


def main():
    global _log_file
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = a free port (see --port-file)")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--keep-alive", type=float, default=5.0,
                    help="uvicorn timeout_keep_alive, seconds (vLLM: 5)")
    ap.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"],
                    help="uvicorn's HTTP implementation (auto = httptools when installed, as vLLM)")
    ap.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"])
    ap.add_argument("--token-ms", type=float, default=0.0, help="delay between output tokens")
    ap.add_argument("--ttft-ms", type=float, default=0.0, help="delay before the first token")
    ap.add_argument("--log", help="request log (JSON Lines), the server's view")
    a = ap.parse_args()
    if not (a.host.startswith("127.") or a.host == "::1"):
        sys.exit("server.py: listens on loopback only")
    opts.token_ms, opts.ttft_ms = a.token_ms, a.ttft_ms
    if a.log:
        _log_file = open(a.log, "a", encoding="utf-8")
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.host, a.port))
    sock.listen(1024)
    sock.set_inheritable(True)
    config = uvicorn.Config(app, timeout_keep_alive=a.keep_alive, http=a.http, loop=a.loop,
                            lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % sock.getsockname()[1])
        os.rename(tmp, a.port_file)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
