# replay_usage.sh — output-token counts against llmtrace-sim --tokens-per-event 4 (every event
# carries 4 tokens and says nothing about it): by default streaming OpenAI requests ask for
# usage, so n_out is the server's; --no-include-usage sends the input's bodies byte for byte
# (checked on the bytes that reached the server, through a recording TCP relay); a pinned
# max_tokens with ignore_eos and finish reason "length" gives n_out exactly (tokens_source
# "max_tokens"); n_out still counted from events is flagged in the summary with its share.
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
PY=/usr/bin/python3
start_sim --profile linear:2,0,0 --tokens-per-event 4 --log "$T/sim.jsonl.gz"

# 8 streaming chat requests written as Python writes JSON (", " and ": " separators, 1.0, a
# \u escape): bytes a re-serialization would change. bodies.json keeps each body's exact text.
$PY - "$T/in.jsonl.gz" "$T/bodies.json" <<'PY'
import gzip, json, sys
out, bodies_out = sys.argv[1], sys.argv[2]
bodies = []
with gzip.open(out, "wt") as f:
    f.write('{"type": "header", "schema": 1, "tool": "test", "version": "0"}\n')
    for i in range(8):
        body = ('{"model": "m", "stream": true, "temperature": 1.0, "max_tokens": 64, '
                '"messages": [{"role": "user", "content": "caf\\u00e9 %d"}]}' % i)
        json.loads(body)
        bodies.append(body)
        f.write('{"type": "exchange", "id": "o%d", "start_us": %d, "request": {"method": "POST", '
                '"path": "/v1/chat/completions", "headers": [], "body": %s}, "tokens_out": 64}\n'
                % (i, 1700000000000000 + i * 1000, body))
json.dump(bodies, open(bodies_out, "w"))
PY

# Default: usage asked for and used.
"$RP" "$T/in.jsonl.gz" --url "$SIM_URL" -c 4 --max-tokens 64 --ignore-eos \
  -o "$T/u.jsonl.gz" 2> "$T/u.err"
assert_eq "default: n_out from usage, 64 each" '[["usage", 64]]' "$(rq "$T/u.jsonl.gz" '
sorted(set((x["tokens_source"], x["tokens_out"]) for x in ex))')"
assert_eq "default: the server was asked for usage" "[]" "$(rq "$T/u.jsonl.gz" '
[x["id"] for x in ex if x["request"]["body"].get("stream_options") != {"include_usage": True}]')"
assert_eq "default: header option" true "$(rq "$T/u.jsonl.gz" 'hdr["options"]["include_usage"]')"
assert_eq "default: no events footnote" 0 "$(grep -c 'n_out counted' "$T/u.err" || true)"
grep -q '512 output tokens (.* tok/s); TTFT' "$T/u.err" || fail "default summary: $(cat "$T/u.err")"
grep -q '; TPOT p50 [0-9.]*ms;' "$T/u.err" || fail "default summary has TPOT: $(cat "$T/u.err")"
# --include-usage is still accepted, and means the default
"$RP" "$T/in.jsonl.gz" --url "$SIM_URL" -c 4 --max-tokens 64 --ignore-eos --include-usage -q \
  -o "$T/u2.jsonl.gz"
assert_eq "--include-usage: usage" '["usage"]' "$(rq "$T/u2.jsonl.gz" 'sorted(set(x["tokens_source"] for x in ex))')"

# --no-include-usage with a pinned length: the stream's finish reason "length" says all 64
# were generated.
"$RP" "$T/in.jsonl.gz" --url "$SIM_URL" -c 4 --max-tokens 64 --ignore-eos --no-include-usage \
  -o "$T/p.jsonl.gz" 2> "$T/p.err"
assert_eq "pinned: n_out = max_tokens" '[["max_tokens", 64, "length"]]' "$(rq "$T/p.jsonl.gz" '
sorted(set((x["tokens_source"], x["tokens_out"], x["response"]["finish_reason"]) for x in ex))')"
assert_eq "pinned: 16 content events each (4 tokens per event)" '[16]' "$(rq "$T/p.jsonl.gz" '
sorted(set(sum(1 for e in x["response"]["events"] if e[2]) for x in ex))')"
assert_eq "pinned: no usage asked" "[]" "$(rq "$T/p.jsonl.gz" '[x["id"] for x in ex if "stream_options" in x["request"]["body"]]')"
assert_eq "pinned: trailer counts" '[0, 8]' "$(rq "$T/p.jsonl.gz" '[trl["stats"]["n_out_from_events"], trl["stats"]["n_out_max_tokens"]]')"
assert_eq "pinned: no events footnote" 0 "$(grep -c 'n_out counted' "$T/p.err" || true)"

# --no-include-usage and nothing else rewritten: through a relay that records what the client
# sent, each body must arrive exactly as the input holds it.
cat > "$T/relay.py" <<'PY'
import socket, sys, threading
listen_port_file, target_port, record_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(64)
open(listen_port_file + ".tmp", "w").write("%d\n" % ls.getsockname()[1])
import os
os.rename(listen_port_file + ".tmp", listen_port_file)
def pump(a, b, rec):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            if rec:
                rec.write(d)
                rec.flush()
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
n = 0
ls.settimeout(60)
while True:
    try:
        c, _ = ls.accept()
    except socket.timeout:
        break
    u = socket.create_connection(("127.0.0.1", target_port))
    rec = open("%s/conn%d.bin" % (record_dir, n), "wb")
    n += 1
    threading.Thread(target=pump, args=(c, u, rec), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, None), daemon=True).start()
PY
mkdir -p "$T/rec"
$PY "$T/relay.py" "$T/relay.port" "$SIM_PORT" "$T/rec" &
_pids+=($!)
for i in $(seq 1 50); do [ -s "$T/relay.port" ] && break; sleep 0.1; done
RELAY_URL="http://127.0.0.1:$(cat "$T/relay.port")"
"$RP" "$T/in.jsonl.gz" --url "$RELAY_URL" -c 4 --no-include-usage -o "$T/n.jsonl.gz" 2> "$T/n.err"
assert_eq "byte for byte: the server received exactly the input's bodies" ok "$($PY - "$T/rec" "$T/bodies.json" <<'PY'
import glob, json, sys
want = sorted(json.load(open(sys.argv[2])))
got = []
for f in glob.glob(sys.argv[1] + "/conn*.bin"):
    data = open(f, "rb").read()
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            sys.exit("incomplete request head in " + f)
        hs = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip()
              for l in head.split(b"\r\n")[1:] if b":" in l}
        n = int(hs[b"content-length"])
        got.append(rest[:n].decode())
        data = rest[n:]
print("ok" if sorted(got) == want else "got %r, want %r" % (sorted(got), want))
PY
)"
assert_eq "byte for byte: records hold the sent bodies" "[]" "$(rq "$T/n.jsonl.gz" '
b = json.load(open("'"$T"'/bodies.json"))
[x["id"] for x in ex if x["request"]["body"] != json.loads(b[int(x["replay"]["of"][1:])])]')"
# n_out counted from events: a quarter of what the server generated (its log has the truth,
# keyed by X-Request-Id = our record id), and said so next to tok/s and TPOT
stop_pid "$SIM_PID" INT
assert_eq "events: n_out = content events = ceil(generated / 4)" "[]" "$(rq "$T/n.jsonl.gz" '
import gzip
truth = {r["id"]: r["tokens_out"] for r in map(json.loads, gzip.open("'"$T"'/sim.jsonl.gz", "rt")) if r.get("type") == "exchange"}
[x["id"] for x in ex if x["tokens_source"] != "events" or x["tokens_out"] != sum(1 for e in x["response"]["events"] if e[2]) or x["tokens_out"] != -(-truth[x["id"]] // 4)]')"
grep -q 'output tokens (.* tok/s\*); TTFT .*; TPOT p50 [0-9.]*ms\*;' "$T/n.err" \
  || fail "events: tok/s and TPOT marked: $(cat "$T/n.err")"
assert_eq "events: footnote with the share" 1 "$(grep -c '^  \* n_out counted from stream events (tokens_source "events") for 8 of 8 requests (100 %): a lower bound when an event carries several tokens, so tok/s may read low and TPOT high (--no-include-usage: requests did not ask for usage)$' "$T/n.err")"
assert_eq "events: trailer counts" '[8, 0]' "$(rq "$T/n.jsonl.gz" '[trl["stats"]["n_out_from_events"], trl["stats"]["n_out_max_tokens"]]')"
# TPOT: 2 ms per step of 4 tokens; counted from events it reads 4x high (generous bounds)
assert_le "events: TPOT reads ~4x the usage run's" "$(rq "$T/u.jsonl.gz" '3 * trl["stats"]["tpot_p50_us"]')" "$(rq "$T/n.jsonl.gz" 'trl["stats"]["tpot_p50_us"]')"
