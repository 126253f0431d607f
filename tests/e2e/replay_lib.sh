# tests/e2e/replay_lib.sh — helpers shared by the replay_*.sh end-to-end tests (sourced after
# lib.sh): small input traces written with Python's gzip+json per formats/SCHEMA.md, and a
# reader that recovers every complete gzip member of a log cut short (kill -9).
RP=$BIN/llmtrace-replay

# mk_trace OUT N GAP_US [PATH]: N chat-completion exchanges o0..o{N-1}, start_us GAP_US apart,
# written in reverse order (as a completion-ordered capture might be); tokens_out = 3 + i % 5,
# recorded max_tokens 64, streaming.
mk_trace() {
  python3 - "$@" <<'PY'
import gzip, json, sys
out, n, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
path = sys.argv[4] if len(sys.argv) > 4 else "/v1/chat/completions"
t0 = 1700000000000000
with gzip.open(out, "wt") as f:
    f.write(json.dumps({"type": "header", "schema": 1, "tool": "test", "version": "0",
                        "start_us": t0}) + "\n")
    for i in reversed(range(n)):
        body = {"model": "orig-model", "stream": True, "max_tokens": 64,
                "messages": [{"role": "user", "content": "question number %d" % i}]}
        f.write(json.dumps({"type": "exchange", "id": "o%d" % i, "start_us": t0 + i * gap,
                            "request": {"method": "POST", "path": path, "headers": [],
                                        "body": body},
                            "response": {"status": 200, "events": []},
                            "tokens_out": 3 + i % 5, "tokens_source": "usage",
                            "error": None}) + "\n")
PY
}

# rq FILE PYCODE: like zjq, with statements allowed (every line but the last is executed, the
# last is the printed expression, after a last "; " if any) and a torn tail tolerated when RQ_TORN_OK=1: the log is read
# gzip member by member, keeping every complete line of every complete member; `complete` says
# whether the file ended on a member boundary. Without RQ_TORN_OK a torn log fails the test.
rq() {
  # A broken query prints a unique marker, so it never compares equal to another broken one.
  python3 - "$1" "$2" <<'PY' || echo "rq-error-$RANDOM$RANDOM"
import collections, json, os, sys, zlib
path, code = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
lines, complete, pos = [], True, 0
while pos < len(data):
    d = zlib.decompressobj(wbits=31)
    try:
        chunk = d.decompress(data[pos:])
    except zlib.error:
        complete = False
        break
    if not d.eof:
        complete = False
        break
    lines += [l for l in chunk.decode().split("\n") if l.strip()]
    pos = len(data) - len(d.unused_data)
if not complete and os.environ.get("RQ_TORN_OK") != "1":
    sys.exit("rq: %s: torn or corrupt gzip member" % path)
recs = [json.loads(l) for l in lines]
ex = [r for r in recs if r.get("type") == "exchange"]
hdr = next((r for r in recs if r.get("type") == "header"), None)
trl = next((r for r in recs if r.get("type") == "trailer"), None)
body = [l for l in code.strip("\n").split("\n")]
if "; " in body[-1]:  # "stmt; expr" on the last line
    body[-1:] = body[-1].rsplit("; ", 1)
exec("\n".join(body[:-1]))
v = eval(body[-1])
print(json.dumps(v) if not isinstance(v, str) else v)
PY
}
