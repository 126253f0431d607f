#!/usr/bin/env bash
# convert_azure.sh — llmtrace-convert on the shared Azure and Mooncake samples: row counts,
# first/last times and token sums equal the source's (computed here with Python's csv/json),
# Mooncake prefix sharing, exports read back by Python's csv/json, and a replay of the converted
# Azure trace against llmtrace-sim at --speed 60.
source "$SRC_DIR/tests/e2e/lib.sh"
CONV=$BIN/llmtrace-convert
AZ=$SHARED_DATA/AzureLLMInferenceTrace_conv.csv
MC=$SHARED_DATA/synthetic_trace.jsonl
cd "$TEST_TMP"

"$CONV" -q "$AZ" -o az.jsonl.gz
assert_eq "azure records" 19366 "$(zjq az.jsonl.gz 'len(ex)')"
want=$(python3 - "$AZ" <<'PY'
import csv, sys, datetime
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
def ep(s):
    d = datetime.datetime.strptime(s[:26], '%Y-%m-%d %H:%M:%S.%f').replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp()) * 1000000 + d.microsecond
print(len(rows), ep(rows[0]['TIMESTAMP']), ep(rows[-1]['TIMESTAMP']),
      sum(int(r['ContextTokens']) for r in rows), sum(int(r['GeneratedTokens']) for r in rows))
PY
)
got=$(zjq az.jsonl.gz '" ".join(map(str, [len(ex), ex[0]["start_us"], ex[-1]["start_us"], sum(x["tokens_in"] for x in ex), sum(x["tokens_out"] for x in ex)]))')
assert_eq "azure count/first/last/sum_in/sum_out" "$want" "$got"
assert_eq "azure source" '{"kind": "convert", "format": "azure", "input": "'"$AZ"'"}' "$(zjq az.jsonl.gz 'hdr["source"]')"
assert_eq "azure tokens_source" '["trace"]' "$(zjq az.jsonl.gz 'sorted(set(x["tokens_source"] for x in ex))')"
assert_eq "azure max_tokens pinned" 0 "$(zjq az.jsonl.gz 'sum(1 for x in ex if x["request"]["body"]["max_tokens"] != x["tokens_out"] or not x["request"]["body"]["ignore_eos"])')"
assert_eq "azure prompt estimate" 0 "$(zjq az.jsonl.gz 'sum(1 for x in ex if round(len(x["request"]["body"]["messages"][0]["content"].split()) * 1.3) - x["tokens_in"] not in (-1, 0, 1))')"
assert_eq "azure trailer" 19366 "$(zjq az.jsonl.gz 'trl["records"]')"

"$CONV" -q "$MC" --model mc-model -o mc.jsonl.gz
want=$(python3 - "$MC" <<'PY'
import json, sys
m = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
base = 1735689600000000
print(len(m), base + m[0]['timestamp'] * 1000, base + m[-1]['timestamp'] * 1000,
      sum(x['input_length'] for x in m), sum(x['output_length'] for x in m))
PY
)
got=$(zjq mc.jsonl.gz '" ".join(map(str, [len(ex), ex[0]["start_us"], ex[-1]["start_us"], sum(x["tokens_in"] for x in ex), sum(x["tokens_out"] for x in ex)]))')
assert_eq "mooncake count/first/last/sum_in/sum_out" "$want" "$got"
# prefix sharing: requests whose hash_ids start alike start with the same words (512 tokens
# per block at 1.3 tokens/word: block k ends at word round(512*(k+1)/1.3))
python3 - "$MC" mc.jsonl.gz <<'PY' || fail "mooncake prefix sharing"
import gzip, json, sys
src = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ex = [r for r in map(json.loads, gzip.open(sys.argv[2], 'rt')) if r['type'] == 'exchange']
assert all(r['trace']['line'] == i + 1 for i, r in enumerate(ex))
first = {}
pairs = 0
for s, r in zip(src, ex):
    words = r['request']['body']['messages'][0]['content'].split()
    h = s['hash_ids']
    if h and h[0] in first:
        ps, pw = first[h[0]]
        k = 0
        while k < min(len(h), len(ps['hash_ids'])) and h[k] == ps['hash_ids'][k]:
            k += 1
        n = round(min(512 * k, s['input_length'], ps['input_length']) / 1.3)
        assert words[:n] == pw[:n], (s, k)
        pairs += 1
    elif h:
        first[h[0]] = (s, words)
assert pairs > 1000, pairs
print('ok: prefix sharing holds for', pairs, 'pairs')
PY

# exports, read back by Python's csv and json
"$CONV" -q --to csv az.jsonl.gz -o az.csv
python3 - az.csv "$AZ" <<'PY' || fail "csv export"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
src = list(csv.DictReader(open(sys.argv[2], newline='')))
assert len(rows) == 19366
assert sum(int(r['n_in']) for r in rows) == sum(int(r['ContextTokens']) for r in src)
assert rows[0]['id'] == 'azure-2' and rows[0]['tokens_source'] == 'trace'
assert rows[0]['ttft_us'] == '' and rows[0]['error_kind'] == ''
print('ok: csv export')
PY
"$CONV" -q --to jsonl az.jsonl.gz -o az.jsonl
assert_eq "jsonl export lines" 19368 "$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)))' az.jsonl)"
assert_eq "jsonl export is a log" 19366 "$(zjq az.jsonl 'len(ex)')"
assert_eq "jsonl keeps trace source" '["trace"]' "$(zjq az.jsonl 'sorted(set(x["tokens_source"] for x in ex))')"
"$CONV" -q --to batch az.jsonl.gz -o batch.jsonl
python3 - batch.jsonl <<'PY' || fail "batch export"
import json, sys
b = [json.loads(l) for l in open(sys.argv[1])]
assert len(b) == 19366 and b[0]['custom_id'] == 'azure-2' and b[0]['url'] == '/v1/chat/completions'
assert 'stream' not in b[0]['body'] and b[0]['body']['max_tokens'] == 44
print('ok: batch export')
PY
"$CONV" -q --to har az.jsonl.gz -o az.har
assert_eq "har entries" 19366 "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["log"]["entries"]))' az.har)"
# the batch export converts back
"$CONV" -q --from batch --rate 100 --arrival constant batch.jsonl -o back.jsonl.gz
assert_eq "batch round trip" 19366 "$(zjq back.jsonl.gz 'len(ex)')"

# replay of the converted Azure trace against llmtrace-sim at --speed 60 (first 300 requests)
if [ ! -x "$BIN/llmtrace-sim" ] || [ ! -x "$BIN/llmtrace-replay" ]; then
  echo "SKIP: llmtrace-sim or llmtrace-replay not built; replay part skipped"
  exit 0
fi
start_sim --profile zero --tokenizer words
"$BIN/llmtrace-replay" az.jsonl.gz --url "$SIM_URL" --speed 60 --limit 300 -q -o run.jsonl.gz
assert_eq "replayed" 300 "$(zjq run.jsonl.gz 'len(ex)')"
assert_eq "replay errors" 0 "$(zjq run.jsonl.gz 'sum(1 for x in ex if x["error"])')"
assert_eq "replayed output lengths follow the trace" 0 \
  "$(zjq run.jsonl.gz 'sum(1 for x in ex if x["response"]["status"] != 200 or x["tokens_out"] != x["request"]["body"]["max_tokens"])')"
"$CONV" -q --to csv run.jsonl.gz -o run.csv
python3 - run.csv <<'PY' || fail "csv of a replay"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
assert len(rows) == 300
assert all(r['replay_of'].startswith('azure-') and r['status'] == '200' and r['ttft_us'] != '' for r in rows)
assert all(int(r['n_out']) < 2 or r['tpot_us'] != '' for r in rows)
print('ok: csv of a replay')
PY
