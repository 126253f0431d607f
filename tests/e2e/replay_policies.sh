# replay_policies.sh — issue 12's acceptance against the simulator: for each of its connection
# policies (close after a streamed response as llama.cpp does, keep-alive request limits,
# Connection: close, an idle timeout raced by an open-loop schedule, a close racing the next
# request, every Nth or at random; SSE comments between events) and each persona (with its
# server's default policy), 100 streamed requests through llmtrace-replay while
# llmtrace-capture records lo — 1,300 requests in all:
#   - replay: every request succeeds (0 spurious errors), each exactly once;
#   - no hidden re-send: every request the simulator cut (logged with error "reset") is one of
#     replay's recorded attempts (same X-Request-Id), and every attempt went out on a reused
#     connection and was cut before any response byte; a re-sent record starts (its TTFT and
#     E2E count) after its earlier attempt failed;
#   - tokens and events: replay's n_out = the simulator's usage, its event count = the
#     simulator's, for every request;
#   - capture: its requests (exchanges without resent_as) = replay's records one for one with
#     the same token and event counts, and its transport attempts = replay's attempts.
# Then the failures that must stay failures: a drop before any byte on a new connection
# (--connection-per-request against --drop-connection-rate 1) and a reset mid-stream.
# Needs root for the capture side (exit 77 otherwise).
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
PY=/usr/bin/python3
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: live capture on lo needs root (CI runs as root)"
  exit 77
fi
mk_trace "$T/t.jsonl.gz" 100 2000

# run_case NAME "SIM FLAGS" "REPLAY TIMING FLAGS"
run_case() {
  local name=$1 simflags=$2 rflags=$3
  # shellcheck disable=SC2086
  start_sim --profile zero --seed 3 --log "$T/$name.truth.jsonl.gz" $simflags
  "$BIN/llmtrace-capture" -q -i lo -B 256 -w "$T/$name.cap.jsonl.gz" tcp port "$SIM_PORT" \
    2>"$T/$name.cap.err" &
  local cap=$!
  _pids+=("$cap")
  local uid
  for _ in $(seq 1 50); do
    uid=$(awk '/^Uid:/{print $2}' "/proc/$cap/status" 2>/dev/null || echo gone)
    [ "$uid" != 0 ] && break
    sleep 0.1
  done
  sleep 0.3
  # shellcheck disable=SC2086
  "$RP" "$T/t.jsonl.gz" --url "$SIM_URL" --max-tokens 16 --ignore-eos -q $rflags \
    -o "$T/$name.rep.jsonl.gz" || fail "$name: replay exited $?"
  sleep 0.5
  stop_pid "$cap" INT
  stop_pid "$SIM_PID" INT
  local verdict
  verdict=$($PY - "$T/$name.rep.jsonl.gz" "$T/$name.truth.jsonl.gz" "$T/$name.cap.jsonl.gz" <<'PY'
import collections, gzip, json, sys
def ex(p):
    return [r for r in map(json.loads, gzip.open(p, "rt")) if r.get("type") == "exchange"]
rep, sim, cap = (ex(p) for p in sys.argv[1:4])
bad = []
trl = [r for r in map(json.loads, gzip.open(sys.argv[3], "rt")) if r.get("type") == "trailer"]
drops = trl[0]["stats"].get("pcap", {}).get("dropped", 0) if trl else "?"
if drops:
    bad.append("the kernel dropped %s packets before capture read them (machine too busy): "
               "the comparison below cannot hold" % drops)
errs = collections.Counter((x["error"] or {}).get("kind") for x in rep if x["error"])
if len(rep) != 100 or errs:
    bad.append("replay: %d records, errors %s" % (len(rep), dict(errs)))
ids = [x["id"] for x in rep]
if len(set(ids)) != len(ids):
    bad.append("replay: duplicate ids")
attempts = [(x["id"], a) for x in rep for a in (x["replay"].get("attempts") or [])]
for i, a in attempts:
    if a["conn_new"] is not False or a["error"]["kind"] != "reset":
        bad.append("attempt of %s: %s" % (i, a))
# the record's start (so its TTFT and E2E) is the answering attempt's: after the earlier failed
for x in rep:
    for a in x["replay"].get("attempts") or []:
        if x["start_us"] < a["start_us"] + a["end_us"]:
            bad.append("%s starts at %d, before its earlier attempt failed (%d + %d): TTFT would "
                       "include it" % (x["id"], x["start_us"], a["start_us"], a["end_us"]))
cut = collections.Counter(s["id"] for s in sim if s["error"])
answered = {s["id"]: s for s in sim if not s["error"]}
if cut != collections.Counter(i for i, _ in attempts):
    bad.append("simulator cut %s, replay recorded attempts of %s" % (dict(cut), collections.Counter(i for i, _ in attempts)))
if set(answered) != set(ids):
    bad.append("answered by the simulator != replay's records")
for x in rep:
    s = answered.get(x["id"])
    if s and x["tokens_out"] != s["tokens_out"]:
        bad.append("tokens of %s: replay %s, simulator %s" % (x["id"], x["tokens_out"], s["tokens_out"]))
    if s and len(x["response"]["events"]) != len(s["response"]["events"]):
        bad.append("events of %s: replay %d, simulator %d" % (x["id"], len(x["response"]["events"]), len(s["response"]["events"])))
def rid(c):
    return next((h[1] for h in c["request"]["headers"] if h[0].lower() == "x-request-id"), None)
creq = [c for c in cap if not c.get("resent_as")]
catt = [c for c in cap if c.get("resent_as")]
cmap = {rid(c): c for c in creq}
if len(creq) != len(rep) or set(cmap) != set(ids):
    bad.append("capture: %d requests for replay's %d" % (len(creq), len(rep)))
for x in rep:
    c = cmap.get(x["id"])
    if c and (c["error"] or c["tokens_out"] != x["tokens_out"]):
        bad.append("capture of %s: error %s tokens %s vs %s" % (x["id"], c["error"], c["tokens_out"], x["tokens_out"]))
    if c and len(c["response"]["events"]) != len(x["response"]["events"]):
        bad.append("capture of %s: %d events, replay %d" % (x["id"], len(c["response"]["events"]), len(x["response"]["events"])))
if sorted(rid(c) for c in catt) != sorted(i for i, _ in attempts):
    bad.append("capture: transport attempts %s, replay's %s" % (sorted(rid(c) for c in catt), sorted(i for i, _ in attempts)))
print("; ".join(bad[:5]) if bad else "ok %d attempts" % len(attempts))
PY
)
  case "$verdict" in
    ok*) pass "$name: 100 requests, 0 errors, replay = simulator = capture ($verdict)" ;;
    *) fail "$name: $verdict" ;;
  esac
}

run_case close_after_stream "--close-after-stream" "-c 4"
run_case keepalive_requests "--keepalive-requests 3" "-c 4"
run_case connection_close "--connection-close" "-c 4"
# gaps of 10–60 ms around a 30 ms idle timeout: requests race the server's close
run_case keepalive_timeout "--keepalive-timeout 30ms" "--rate 30 --arrival poisson --seed 5"
run_case close_race "--close-race-every 3" "-c 4"
run_case close_race_rate "--close-race-rate 0.1" "-c 4"
# SSE comments (": keep-alive") between events: bytes on the wire, never events or tokens
run_case sse_comments "--persona tgi --sse-comment-every 2" "-c 4"
for p in llama.cpp vllm sglang ollama tgi openai; do
  run_case "persona_$p" "--persona $p" "-c 4"
done

# The failures that must stay failures.
start_sim --profile zero --seed 3 --drop-connection-rate 1
rc=0
"$RP" "$T/t.jsonl.gz" --url "$SIM_URL" --max-tokens 16 --ignore-eos -c 4 --limit 20 \
  --connection-per-request --max-connect-errors 0 -q -o "$T/drop_new.jsonl.gz" || rc=$?
stop_pid "$SIM_PID"
assert_eq "drop before any byte on new connections: every one a reset, none re-sent" "20 20 0" "$(rq "$T/drop_new.jsonl.gz" '"%d %d %d" % (len(ex), sum(1 for x in ex if x["error"] and x["error"]["kind"] == "reset"), sum(len(x["replay"].get("attempts") or []) for x in ex))')"
start_sim --profile zero --seed 3 --reset-rate 1
"$RP" "$T/t.jsonl.gz" --url "$SIM_URL" --max-tokens 16 --ignore-eos -c 4 --limit 20 -q \
  -o "$T/reset_mid.jsonl.gz" || true
stop_pid "$SIM_PID"
assert_eq "reset mid-stream: every one a reset, none re-sent" "20 20 0" "$(rq "$T/reset_mid.jsonl.gz" '"%d %d %d" % (len(ex), sum(1 for x in ex if x["error"] and x["error"]["kind"] == "reset"), sum(len(x["replay"].get("attempts") or []) for x in ex))')"
