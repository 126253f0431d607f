#!/usr/bin/env bash
# convert_azure.sh — llmtrace-convert on the shared Azure and Mooncake samples: row counts,
# first/last times and token sums equal the source's (computed here with Python's csv/json),
# Mooncake prefix sharing, exports read back by Python's csv/json, and a replay of the converted
# Azure trace against llmtrace-sim at --speed 60.
source "$SRC_DIR/tests/e2e/lib.sh"
CONV=$BIN/llmtrace-convert
AZ=$DATA/AzureLLMInferenceTrace_conv.csv
MC=$DATA/synthetic_trace.jsonl
cd "$TEST_TMP"

"$CONV" -q "$AZ" -o az.jsonl.gz
# one pass of Python over the source CSV and the converted log
python3 - "$AZ" az.jsonl.gz <<'PY' || fail "azure conversion"
import csv, datetime, gzip, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
def ep(s):
    d = datetime.datetime.strptime(s[:26], '%Y-%m-%d %H:%M:%S.%f').replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp()) * 1000000 + d.microsecond
recs = [json.loads(l) for l in gzip.open(sys.argv[2], 'rt')]
hdr, ex, trl = recs[0], recs[1:-1], recs[-1]
assert hdr['type'] == 'header' and trl['type'] == 'trailer' and trl['records'] == 19366
assert len(rows) == len(ex) == 19366, (len(rows), len(ex))
assert ex[0]['start_us'] == ep(rows[0]['TIMESTAMP']) == 1700158546680590
assert ex[-1]['start_us'] == ep(rows[-1]['TIMESTAMP']) == 1700162048402527
assert sum(x['tokens_in'] for x in ex) == sum(int(r['ContextTokens']) for r in rows)
assert sum(x['tokens_out'] for x in ex) == sum(int(r['GeneratedTokens']) for r in rows)
assert hdr['source'] == {'kind': 'convert', 'format': 'azure', 'input': sys.argv[1]}, hdr['source']
for x, r in zip(ex, rows):
    b = x['request']['body']
    assert x['type'] == 'exchange' and x['tokens_source'] == 'usage'
    assert x['usage'] == {'prompt_tokens': int(r['ContextTokens']),
                          'completion_tokens': int(r['GeneratedTokens']), 'cached_tokens': None}, x['usage']
    assert x['request']['method'] == 'POST' and x['request']['path'] == '/v1/chat/completions'
    assert b['stream'] is True and b['ignore_eos'] is True
    assert b['max_tokens'] == x['tokens_out'] == int(r['GeneratedTokens'])
    # documented estimate: round(words x 1.3) within one token of the trace's count
    assert abs(round(len(b['messages'][0]['content'].split()) * 1.3) - x['tokens_in']) <= 1
print('ok: azure: 19366 records, times, token sums, bodies')
PY

"$CONV" -q "$MC" --model mc-model -o mc.jsonl.gz
# counts, times, sums, and prefix sharing: requests whose hash_ids start alike start with the
# same words (512 tokens per block at 1.3 tokens/word)
python3 - "$MC" mc.jsonl.gz <<'PY' || fail "mooncake conversion"
import gzip, json, sys
src = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
base = 1735689600000000
first, pairs, n, sin, sout, last = {}, 0, 0, 0, 0, None
for l in gzip.open(sys.argv[2], 'rt'):
    r = json.loads(l)
    if r['type'] != 'exchange':
        continue
    s = src[n]
    assert r['trace']['line'] == n + 1 and r['start_us'] == base + s['timestamp'] * 1000
    assert r['request']['body']['model'] == 'mc-model'
    n += 1
    sin += r['tokens_in']
    sout += r['tokens_out']
    h = s['hash_ids']
    if n > 2000 or not h:
        continue
    words = r['request']['body']['messages'][0]['content'].split()
    if h[0] in first:
        ps, pw = first[h[0]]
        k = 0
        while k < min(len(h), len(ps['hash_ids'])) and h[k] == ps['hash_ids'][k]:
            k += 1
        m = round(min(512 * k, s['input_length'], ps['input_length']) / 1.3)
        assert words[:m] == pw[:m], (s, k)
        pairs += 1
    else:
        first[h[0]] = (s, words)
assert n == len(src) == 3993
assert sin == sum(x['input_length'] for x in src) and sout == sum(x['output_length'] for x in src)
assert pairs >= 300, pairs
print('ok: mooncake: 3993 records, times, token sums; prefix sharing holds for', pairs, 'pairs')
PY

# exports, read back by Python's csv and json
"$CONV" -q --to csv az.jsonl.gz -o az.csv
python3 - az.csv "$AZ" <<'PY' || fail "csv export"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
src = list(csv.DictReader(open(sys.argv[2], newline='')))
assert len(rows) == 19366
assert sum(int(r['n_in']) for r in rows) == sum(int(r['ContextTokens']) for r in src)
assert rows[0]['id'] == 'azure-2' and rows[0]['tokens_source'] == 'usage'
assert rows[0]['ttft_us'] == '' and rows[0]['error_kind'] == ''
print('ok: csv export')
PY
"$CONV" -q --to jsonl az.jsonl.gz -o az.jsonl
python3 - az.jsonl <<'PY' || fail "jsonl export"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 19368 and recs[0]['type'] == 'header' and recs[-1]['type'] == 'trailer'
ex = recs[1:-1]
assert all(x['type'] == 'exchange' and x['tokens_source'] == 'usage' and x['trace']['format'] == 'azure' for x in ex)
assert recs[-1]['records'] == 19366 and ex[0]['id'] == 'azure-2' and ex[0]['trace']['line'] == 2
print('ok: jsonl export')
PY
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
[ -x "$BIN/llmtrace-sim" ] && [ -x "$BIN/llmtrace-replay" ] || fail "llmtrace-sim or llmtrace-replay not built"
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
