# replay_http2.sh — --http2 over real HTTP/2: llmtrace-sim behind tests/e2e/h2_front.py, a
# stdlib HTTP/2 → HTTP/1.1 gateway over TLS that offers only "h2" in ALPN (the self-signed
# fixture certificate, so --insecure). Every streamed request comes back whole with the recorded
# length, its events match the simulator's ground truth one for one and none is stamped before
# the simulator wrote it; the front saw 16 HTTP/2 streams, several of them multiplexed on one
# connection at once. Without --http2 the client offers only http/1.1, the front answers with
# the no_application_protocol alert, and every request fails as "tls" (exit 1).
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
FX=$SRC_DIR/tests/fixtures/tls
FRONT=$SRC_DIR/tests/e2e/h2_front.py
N=16

# The front's HPACK decoder against RFC 7541 Appendix C (C.4, C.6) and its Huffman table.
assert_eq "h2_front self-test" ok "$(python3 "$FRONT" --self-test)"

start_sim --profile default --log "$T/truth.jsonl.gz"
python3 "$FRONT" "$FX/cert.pem" "$FX/key.pem" "$SIM_PORT" "$T/h2.port" "$T/h2.stats" \
  2>"$T/front.stderr" &
FRONT_PID=$!
_pids+=("$FRONT_PID")
for _ in $(seq 1 100); do [ -s "$T/h2.port" ] && break; sleep 0.1; done
[ -s "$T/h2.port" ] || fail "h2_front.py did not start: $(cat "$T/front.stderr")"
URL="https://127.0.0.1:$(cat "$T/h2.port")"
mk_trace "$T/t$N.jsonl.gz" $N 1000

"$RP" "$T/t$N.jsonl.gz" --url "$URL" --insecure --http2 -c 8 --max-tokens original --ignore-eos \
  -q -o "$T/h2.jsonl.gz"
assert_eq "http2: $N records, no errors" "$N 0" "$(rq "$T/h2.jsonl.gz" '"%d %d" % (len(ex), sum(1 for x in ex if x["error"]))')"
assert_eq "http2: recorded lengths streamed" "[]" "$(rq "$T/h2.jsonl.gz" '[x["id"] for x in ex if x["tokens_out"] != 3 + int(x["replay"]["of"][1:]) % 5]')"
assert_eq "http2: every input record replayed once" "$N" "$(rq "$T/h2.jsonl.gz" 'len(set(x["replay"]["of"] for x in ex))')"
assert_eq "http2: header records the option" true "$(rq "$T/h2.jsonl.gz" 'hdr["options"]["http2"]')"

# Negative: the same replay offering only http/1.1 cannot agree on a protocol with the front.
set +e
# (--max-connect-errors 0: every one of the 16 requests tries, none is given up on)
"$RP" "$T/t$N.jsonl.gz" --url "$URL" --insecure -c 8 --max-tokens original --ignore-eos \
  --max-connect-errors 0 -o "$T/h1.jsonl.gz" 2>"$T/h1.stderr" </dev/null
rc=$?
set -e
assert_eq "http/1.1 only: exit 1, nothing could connect" 1 "$rc"
assert_eq "http/1.1 only: every request is a tls error" "$N [\"tls\"]" "$(rq "$T/h1.jsonl.gz" '"%d %s" % (len(ex), json.dumps(sorted(set(x["error"]["kind"] for x in ex if x["error"]))))')"
assert_eq "http/1.1 only: the alert is named" "$N" "$(rq "$T/h1.jsonl.gz" 'sum(1 for x in ex if "no application protocol" in x["error"]["message"])')"

stop_pid "$FRONT_PID" TERM # writes its stats
[ -s "$T/h2.stats" ] || fail "h2_front.py wrote no stats: $(cat "$T/front.stderr")"
cat "$T/h2.stats"
assert_eq "front: $N HTTP/2 streams, no protocol or backend errors" "$N 0 0" "$(zjq "$T/h2.stats" '"%d %d %d" % (recs[0]["streams"], recs[0]["protocol_errors"], recs[0]["backend_errors"])')"
assert_eq "front: every connection negotiated h2, streams on them add up" "$N" "$(zjq "$T/h2.stats" 'sum(c["streams"] for c in recs[0]["per_connection"]) if recs[0]["connections"] == len(recs[0]["per_connection"]) > 0 else -1')"
assert_eq "front: a connection carried more than one stream" true "$(zjq "$T/h2.stats" 'recs[0]["max_streams_per_connection"] > 1')"
assert_eq "front: streams multiplexed (open at once on one connection)" true "$(zjq "$T/h2.stats" 'recs[0]["max_open_streams"] > 1')"
# one handshake per request, plus the first connection closed-loop replay opens before the
# stage starts (--preconnect), which fails the same way and stops the preconnecting
assert_eq "front: the http/1.1-only handshakes refused by ALPN" "$((N + 1))" "$(zjq "$T/h2.stats" 'recs[0]["alpn_refused"]')"

stop_pid "$SIM_PID" INT # the ground-truth log is complete once the simulator exits
assert_eq "simulator: Host from :authority, bodies whole" "$N []" "$(zjq "$T/truth.jsonl.gz" '"%d %s" % (len(ex), [x["id"] for x in ex if x["request"]["host"] != "'"${URL#https://}"'" or not (x["request"]["body"] or {}).get("ignore_eos")])')"
# Per request id (X-Request-Id, forwarded by the front): the same events as the simulator
# wrote, none stamped before the simulator wrote it (the front only adds delay), none a second
# late.
assert_eq "http2: events match the simulator's, after its writes" "True True" "$(python3 - "$T/truth.jsonl.gz" "$T/h2.jsonl.gz" <<'PY'
import gzip, json, sys
def load(p):
    return {r["id"]: r for r in map(json.loads, gzip.open(p, "rt")) if r.get("type") == "exchange"}
sim, rep = load(sys.argv[1]), load(sys.argv[2])
same = sorted(sim) == sorted(rep) and all(
    len(r["response"]["events"]) == len(sim[k]["response"]["events"]) > 0 for k, r in rep.items())
d = []
for k, r in rep.items():
    s = sim.get(k)
    if s is None:
        d.append(None)
        continue
    a = [r["start_us"] + e[0] for e in r["response"]["events"]]
    b = [s["start_us"] + e[0] for e in s["response"]["events"]]
    d += [x - y for x, y in zip(a, b)] if len(a) == len(b) else [None]
print(same, len(d) > 0 and None not in d and min(d) >= -20 and max(d) < 1000000)
PY
)"
