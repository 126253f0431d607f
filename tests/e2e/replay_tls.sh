# replay_tls.sh — https targets: llmtrace-sim behind a TLS front (tests/e2e/tls_proxy.py, the
# self-signed fixture certificate). With --insecure every request streams through; without it
# every request fails with error kind "tls", the run still records them all and exits 1 (no
# request could connect); --http2 against a front that offers only http/1.1 falls back to
# HTTP/1.1 and works. Receive timestamps (--timestamps kernel) apply to TLS sockets as well.
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
FX=$SRC_DIR/tests/fixtures/tls
start_sim --profile default --log "$T/truth.jsonl.gz"
python3 "$SRC_DIR/tests/e2e/tls_proxy.py" "$FX/cert.pem" "$FX/key.pem" "$SIM_PORT" "$T/tls.port" \
  2>"$T/proxy.stderr" &
_pids+=("$!")
for _ in $(seq 1 100); do [ -s "$T/tls.port" ] && break; sleep 0.1; done
[ -s "$T/tls.port" ] || fail "tls_proxy.py did not start: $(cat "$T/proxy.stderr")"
URL="https://127.0.0.1:$(cat "$T/tls.port")"
mk_trace "$T/t6.jsonl.gz" 6 1000

"$RP" "$T/t6.jsonl.gz" --url "$URL" --insecure -c 3 --max-tokens original --ignore-eos -q \
  -o "$T/ok.jsonl.gz"
assert_eq "insecure: 6 records, no errors" "6 0" "$(rq "$T/ok.jsonl.gz" '"%d %d" % (len(ex), sum(1 for x in ex if x["error"]))')"
assert_eq "insecure: recorded lengths streamed" "[]" "$(rq "$T/ok.jsonl.gz" '[x["id"] for x in ex if x["tokens_out"] != 3 + int(x["replay"]["of"][1:]) % 5]')"
assert_eq "insecure: target recorded as https" "$URL" "$(rq "$T/ok.jsonl.gz" 'hdr["source"]["target"]')"
set +e
"$RP" "$T/t6.jsonl.gz" --url "$URL" -c 3 -o "$T/bad.jsonl.gz" 2>"$T/bad.stderr" </dev/null
rc=$?
set -e
assert_eq "verify: exit 1, nothing could connect" 1 "$rc"
assert_eq "verify: every request is a tls error" '["tls", "tls", "tls", "tls", "tls", "tls"]' "$(rq "$T/bad.jsonl.gz" '[x["error"]["kind"] for x in ex]')"
assert_eq "verify: stderr says why" 1 "$(grep -c 'no request could connect to .*TLS failed; --insecure' "$T/bad.stderr")"

"$RP" "$T/t6.jsonl.gz" --url "$URL" --insecure --http2 -c 3 --max-tokens original --ignore-eos -q \
  -o "$T/h2.jsonl.gz"
assert_eq "http2 offered, http/1.1 agreed: 6 records, no errors" "6 0" "$(rq "$T/h2.jsonl.gz" '"%d %d" % (len(ex), sum(1 for x in ex if x["error"]))')"
assert_eq "http2: header records the option" true "$(rq "$T/h2.jsonl.gz" 'hdr["options"]["http2"]')"

stop_pid "$SIM_PID" INT # the ground-truth log is complete once the simulator exits
# The TLS front adds its own delay, so times are checked for order only: no event before the
# simulator wrote it (the receive time is the TLS record's segment), none a second late.
assert_eq "insecure: events after the simulator's writes" True "$(python3 - "$T/truth.jsonl.gz" "$T/ok.jsonl.gz" <<'PY'
import gzip, json, sys
def load(p):
    return {r["id"]: r for r in map(json.loads, gzip.open(p, "rt")) if r.get("type") == "exchange"}
sim, rep = load(sys.argv[1]), load(sys.argv[2])
d = []
for k, r in rep.items():
    s = sim[k]
    a = [r["start_us"] + e[0] for e in r["response"]["events"]]
    b = [s["start_us"] + e[0] for e in s["response"]["events"]]
    d += [x - y for x, y in zip(a, b)] if len(a) == len(b) else [None]
print(len(d) > 0 and None not in d and min(d) >= -50 and max(d) < 1000000)
PY
)"

