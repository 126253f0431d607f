#!/usr/bin/env bash
# bench/search/run.sh — what `llmtrace-replay --search concurrency` saves against the sweep a
# user would run by hand for the same question ("the highest concurrency whose p90 E2E is
# within the SLO"), against llmtrace-sim on loopback, whose model makes the answer known:
#
#   --profile default --max-batch 4, every request 32 output tokens (--max-tokens 32
#   --ignore-eos) and a ~5-token prompt: a full batch decodes one token per
#   decode(4) = 2 + 4/16 = 2.25 ms, so a generation ("round") takes R = 32 × 2.25 = 72 ms
#   (prefill of the joining prompts adds ~0.1 ms). A closed loop of c = 4k + j streams
#   (0 < j <= 4) keeps the batch full: in steady state 4 − j of every 4 requests wait k − 1
#   rounds and j wait k, so each quarter of the requests (25 % > 10 %) sits on a whole round
#   and p90 E2E = ceil(c / 4) × R. An SLO of 10.5 R = 756 ms is therefore met up to c = 40
#   and missed from c = 41 on (11 R = 792 ms), with half a round (36 ms) of margin each side.
#   (With --max-batch 16 one extra stream is 1/16 = 6.25 % of the requests, too close to the
#   10 % a p90 leaves: stages near the answer come out undecided and are lengthened, which
#   measures the interval rule, not the search.)
#
# Four runs, each against a fresh sim, 100 measured requests per stage:
#   search        --search concurrency --slo e2e=756 (defaults: start 1, factor 2, 5 %
#                 tolerance, p90, warm-up = the concurrency, then 100 judged requests);
#                 at 40 the 5 % tolerance is 2, so it may stop at [40, 42] untried 41
#   search 1 %    the same with --search-tolerance 0.01: down to adjacent integers, the
#                 precision of the step-1 sweep below
#   sweep 1,2,…64 --sweep 1,2,4,8,16,32,64 --stage-requests 100 (what users type; its answer
#                 can only be a grid point)
#   sweep 1..64   --sweep 1,2,3,…,64 --stage-requests 100 (the grid that gives the search's
#                 precision without a search)
# The sweeps have no warm-up (--warmup is one count for every stage), so their stages send
# fewer requests than the search's (100 vs c + 100): the comparison favours the sweeps. A
# sweep's answer is read from `llmtrace-analyze --by stage --slo e2e=756 --json`: the highest
# stage whose p90 E2E (point estimate) is within the SLO.
# Prints Markdown: one table (method, answer, stages, requests sent, wall time), then each
# method's stages. Wall time is the replay process's, start to exit (loading included).
# usage: bench/search/run.sh [BIN_DIR]   (default build/bin; ~4 minutes on 2 cores)
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
tmp=$(mktemp -d)
sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
B=4
TOK=32
SLO=$($PY -c "print(round(10.5 * $TOK * (2.0 + $B / 16.0), 3))")   # 756 ms
MODEL=$($PY -c "print(10 * $B)")                                    # 40
REQ=100
SIM="--profile default --max-batch $B"
RP_ARGS="--max-tokens $TOK --ignore-eos -q"

start_sim() {
  rm -f "$tmp/port"
  "$bin/llmtrace-sim" --listen 127.0.0.1:0 --port-file "$tmp/port" --quiet $SIM &
  sim_pid=$!
  for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  [ -s "$tmp/port" ] || { echo "bench/search: llmtrace-sim did not report its port" >&2; exit 1; }
  url=http://127.0.0.1:$(cat "$tmp/port")
}
stop_sim() { kill "$sim_pid"; wait "$sim_pid" 2>/dev/null || true; sim_pid=; }
now() { date +%s.%N; }
# run NAME replay-args…: one replay against a fresh sim, bounded by timeout; wall time in NAME.wall
run() {
  local name=$1; shift
  start_sim
  local t0; t0=$(now)
  timeout 400 "$bin/llmtrace-replay" "$tmp/t.jsonl.gz" --url "$url" $RP_ARGS -o "$tmp/$name.jsonl.gz" "$@" \
    >"$tmp/$name.out" 2>"$tmp/$name.err" || { echo "bench/search: $name: replay exited $?:" >&2; tail -5 "$tmp/$name.err" >&2; exit 1; }
  $PY -c "print('%.1f' % ($(now) - $t0))" >"$tmp/$name.wall"
  stop_sim
}

# 200 short chat requests; every reply is pinned to $TOK tokens by --max-tokens/--ignore-eos.
$PY - "$tmp/t.jsonl.gz" <<'PY'
import gzip, json, sys
t0 = 1700000000000000
with gzip.open(sys.argv[1], "wt") as f:
    f.write(json.dumps({"type": "header", "schema": 1, "tool": "bench/search", "version": "0", "start_us": t0}) + "\n")
    for i in range(200):
        body = {"model": "m", "stream": True, "max_tokens": 64,
                "messages": [{"role": "user", "content": "question number %d" % i}]}
        f.write(json.dumps({"type": "exchange", "id": "q%d" % i, "start_us": t0 + i * 1000,
                            "request": {"method": "POST", "path": "/v1/chat/completions",
                                        "headers": [], "body": body},
                            "response": {"status": 200, "events": []}, "tokens_out": 64,
                            "tokens_source": "usage", "error": None}) + "\n")
PY

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ), commit $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo ?)"
echo
echo "\`llmtrace-sim $SIM\`, $TOK-token replies, SLO p90 E2E <= $SLO ms; the sim's model: p90 E2E = ceil(c / $B) × $TOK × decode($B) → highest concurrency meeting it **$MODEL**."
echo

run search --search concurrency --slo "e2e=$SLO" --stage-requests $REQ --json
run search1 --search concurrency --slo "e2e=$SLO" --stage-requests $REQ --json --search-tolerance 0.01
run geo --sweep 1,2,4,8,16,32,64 --stage-requests $REQ
run lin --sweep "$(seq -s, 1 64)" --stage-requests $REQ
for n in geo lin; do
  "$bin/llmtrace-analyze" -q --by stage --slo "e2e=$SLO" --json "$n=$tmp/$n.jsonl.gz" >"$tmp/$n.analyze.json"
done

$PY - "$tmp" "$SLO" "$REQ" <<'PY'
import gzip, json, sys
tmp, slo, req = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
def trailer(name):
    t = None
    for l in gzip.open("%s/%s.jsonl.gz" % (tmp, name), "rt"):
        r = json.loads(l)
        if r.get("type") == "trailer":
            t = r
    return t["stats"]
def wall(name):
    return open("%s/%s.wall" % (tmp, name)).read().strip()
rows, detail = [], []
# search: its own answer (stdout JSON) and its stage records, in the order run
for name, label in (("search", "`--search concurrency` (default 5 % tolerance)"),
                    ("search1", "`--search concurrency --search-tolerance 0.01`")):
    s = json.load(open("%s/%s.out" % (tmp, name)))
    st = trailer(name)
    stages = [json.loads(l) for l in gzip.open("%s/%s.jsonl.gz" % (tmp, name), "rt")]
    stages = [r for r in stages if r.get("type") == "stage"]
    ans = s["answer"]["stage"] if s["answer"] else "none"
    nxt = "next %s %s; " % (s["next"]["stage"], s["next"]["verdict"]) if s["next"] else ""
    rows.append((label, "%s (%sbracket [%s, %s], converged %s)" % (
        ans, nxt, s["bracket"]["met"], s["bracket"]["not_met"], s["converged"]), s["stages"], st["sent"], wall(name)))
    detail.append("%s, stages in the order run (p90 E2E ms, verdict): " % label + ", ".join(
        "%s: %.1f %s" % (r["stage"], r["estimates"]["e2e_ms"]["point"], r["verdict"]) for r in stages))
for name, label in (("geo", "`--sweep 1,2,4,…,64`"), ("lin", "`--sweep 1,2,3,…,64`")):
    g = [x for x in json.load(open("%s/%s.analyze.json" % (tmp, name)))["groups"] if x["stage"] is not None]
    g.sort(key=lambda x: x["stage"])
    met = [x["stage"] for x in g if x["e2e_ms"]["p90"] is not None and x["e2e_ms"]["p90"] <= slo]
    best = max(met) if met else None
    # below the answer every stage should meet; say so when one does not (noise)
    holes = [x["stage"] for x in g if best is not None and x["stage"] < best and x["stage"] not in met]
    above = [x["stage"] for x in g if best is not None and x["stage"] > best]
    st = trailer(name)
    note = "%s (next stage %s fails)" % (best, above[0] if above else "-") if best is not None else "none"
    if holes:
        note += "; stages below it that fail: %s" % holes
    rows.append((label, note, len(st["stages"]), st["sent"], wall(name)))
    detail.append("%s, p90 E2E ms per stage: " % label + ", ".join(
        "%d: %.1f" % (x["stage"], x["e2e_ms"]["p90"]) for x in g))
print("| method | answer (concurrency) | stages run | requests sent | wall time (s) |")
print("|---|---|--:|--:|--:|")
for r in rows:
    print("| %s | %s | %s | %s | %s |" % r)
print()
for d in detail:
    print("- " + d)
PY
