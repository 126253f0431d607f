# replay_rewrite.sh — request rewriting checked on what the simulator received (its ground-truth
# log, keyed by X-Request-Id = our record id): --max-tokens original sends each record's recorded
# output count, --model, --include-usage; with --ignore-eos the simulator then generates exactly
# the recorded lengths. Also the OpenAI Batch API input with timestamp_ms, and the once-per-
# dialect warning that Anthropic, Ollama and TGI requests cannot have their lengths forced.
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
start_sim --profile zero --log "$T/sim.jsonl.gz"
mk_trace "$T/t10.jsonl.gz" 10 10000

"$RP" "$T/t10.jsonl.gz" --url "$SIM_URL" --max-tokens original --ignore-eos --model m2 \
  --include-usage -c 2 -q -o "$T/rw.jsonl.gz"
stop_pid "$SIM_PID" INT
assert_eq "rewrite: records" 10 "$(rq "$T/rw.jsonl.gz" 'len(ex)')"
# Sim log: request bodies by id.
python3 - "$T/sim.jsonl.gz" > "$T/sim_bodies.json" <<'PY'
import gzip, json, sys
recs = [json.loads(l) for l in gzip.open(sys.argv[1], "rt") if l.strip()]
print(json.dumps({r["id"]: r["request"]["body"] for r in recs if r.get("type") == "exchange"}))
PY
assert_eq "rewrite: sim saw recorded max_tokens" "[]" "$(rq "$T/rw.jsonl.gz" '
b = json.load(open("'"$T"'/sim_bodies.json"))
[x["id"] for x in ex if b[x["id"]]["max_tokens"] != 3 + int(x["replay"]["of"][1:]) % 5]')"
assert_eq "rewrite: model and usage option" "[]" "$(rq "$T/rw.jsonl.gz" '
b = json.load(open("'"$T"'/sim_bodies.json"))
[x["id"] for x in ex if b[x["id"]]["model"] != "m2" or b[x["id"]]["stream_options"] != {"include_usage": True} or b[x["id"]]["ignore_eos"] is not True]')"
assert_eq "rewrite: generated lengths = recorded" "[]" "$(rq "$T/rw.jsonl.gz" '
[x["id"] for x in ex if x["tokens_out"] != 3 + int(x["replay"]["of"][1:]) % 5 or x["tokens_source"] != "usage"]')"
assert_eq "rewrite: record body is what was sent" "[]" "$(rq "$T/rw.jsonl.gz" '
b = json.load(open("'"$T"'/sim_bodies.json"))
[x["id"] for x in ex if x["request"]["body"] != b[x["id"]]]')"

# Batch API input: custom_id → replay.of, timestamp_ms → schedule.
cat > "$T/batch.jsonl" <<'B'
{"custom_id":"req-1","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"a"}],"max_tokens":4},"timestamp_ms":1000}
{"custom_id":"req-2","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"b"}],"max_tokens":4},"timestamp_ms":1300}
{"custom_id":"req-3","method":"POST","url":"/v1/completions","body":{"model":"m","prompt":"c","max_tokens":4},"timestamp_ms":1700}
B
start_sim --profile zero
"$RP" "$T/batch.jsonl" --url "$SIM_URL/" --stream on --ignore-eos -q -o "$T/batch.out.jsonl.gz"
assert_eq "batch: source format" batch "$(rq "$T/batch.out.jsonl.gz" 'hdr["source"]["input_format"]')"
assert_eq "batch: ids and offsets" '[["req-1", 0], ["req-2", 300000], ["req-3", 700000]]' "$(rq "$T/batch.out.jsonl.gz" '
s = sorted((x["replay"]["sched_us"], x["replay"]["of"]) for x in ex); [[o, t - s[0][0]] for t, o in s]')"
assert_eq "batch: streamed and decoded" '[4, 4, 4]' "$(rq "$T/batch.out.jsonl.gz" 'sorted(sum(1 for e in x["response"]["events"] if e[2]) for x in ex)')"
assert_eq "batch: dialects" '["openai-chat", "openai-chat", "openai-completions"]' "$(rq "$T/batch.out.jsonl.gz" 'sorted(x["dialect"] for x in ex)')"

# Anthropic, Ollama and TGI have no ignore_eos: --ignore-eos / --max-tokens original can only
# cap their output, so the tool warns once per such dialect (with its request count) and sends
# no ignore_eos key; OpenAI requests get it and no warning.
cat > "$T/dialects.jsonl" <<'B'
{"custom_id":"o1","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"a"}],"max_tokens":4}}
{"custom_id":"a1","url":"/v1/messages","body":{"model":"m","messages":[{"role":"user","content":"b"}],"max_tokens":4}}
{"custom_id":"a2","url":"/v1/messages","body":{"model":"m","messages":[{"role":"user","content":"c"}],"max_tokens":4}}
{"custom_id":"l1","url":"/api/chat","body":{"model":"m","messages":[{"role":"user","content":"d"}]}}
{"custom_id":"g1","url":"/generate","body":{"inputs":"e","parameters":{"max_new_tokens":4}}}
B
"$RP" "$T/dialects.jsonl" --url "$SIM_URL" --rate 100 --ignore-eos --max-tokens 3 \
  -o "$T/d.jsonl.gz" 2> "$T/d.stderr"
assert_eq "unpinned: one warning per dialect" 3 "$(grep -c 'has no ignore_eos: cannot force' "$T/d.stderr")"
assert_eq "unpinned: anthropic warning" 1 "$(grep -c '^llmtrace-replay: warning: anthropic has no ignore_eos: cannot force the output length of 2 requests (max tokens is only a cap); output lengths may differ from the recording$' "$T/d.stderr")"
assert_eq "unpinned: ollama-chat warning" 1 "$(grep -c 'warning: ollama-chat has no ignore_eos: cannot force the output length of 1 requests' "$T/d.stderr")"
assert_eq "unpinned: tgi warning" 1 "$(grep -c 'warning: tgi has no ignore_eos: cannot force the output length of 1 requests' "$T/d.stderr")"
assert_eq "unpinned: no openai warning" 0 "$(grep -c 'openai' "$T/d.stderr" || true)"
assert_eq "unpinned: ignore_eos sent to openai only" '[["a1", false], ["a2", false], ["g1", false], ["l1", false], ["o1", true]]' "$(rq "$T/d.jsonl.gz" 'sorted([x["replay"]["of"], "ignore_eos" in x["request"]["body"]] for x in ex)')"
"$RP" "$T/dialects.jsonl" --url "$SIM_URL" --rate 100 --max-tokens original \
  -o "$T/d2.jsonl.gz" 2> "$T/d2.stderr"
assert_eq "unpinned: --max-tokens original warns too" 3 "$(grep -c 'has no ignore_eos: cannot force' "$T/d2.stderr")"
"$RP" "$T/dialects.jsonl" --url "$SIM_URL" --rate 100 --max-tokens 3 \
  -o "$T/d3.jsonl.gz" 2> "$T/d3.stderr"
assert_eq "unpinned: a plain cap does not warn" 0 "$(grep -c 'ignore_eos' "$T/d3.stderr" || true)"
stop_pid "$SIM_PID" INT
