#!/usr/bin/env bash
# capture_golden.sh — llmtrace-capture -r on the golden pcaps of tests/fixtures/capture: each
# record must carry the exact values of NAME.expect.json; plus header/trailer, merged -r, BPF
# filters as trailing arguments and exit codes.
. "$(dirname "$0")/lib.sh"
FX="$SRC_DIR/tests/fixtures/capture"
CAP="$BIN/llmtrace-capture"

check_case() {  # check_case NAME FLAGS...
  local name=$1; shift
  local out="$TEST_TMP/$name.jsonl.gz"
  "$CAP" -q -r "$FX/$name.pcap" -w "$out" "$@" 2>"$TEST_TMP/$name.err" \
    || fail "$name: exit $? ($(cat "$TEST_TMP/$name.err"))"
  /usr/bin/python3 - "$out" "$FX/$name.expect.json" "$name" <<'PY' || fail "$name: records differ"
import gzip, json, sys
path, exp_path, name = sys.argv[1:]
with gzip.open(path, 'rt') as f:
    recs = [json.loads(l) for l in f if l.strip()]
want = json.load(open(exp_path))
ex = [r for r in recs if r['type'] == 'exchange']
assert recs[0]['type'] == 'header' and recs[-1]['type'] == 'trailer', 'header/trailer missing'
src = recs[0]['source']
assert src['kind'] == 'capture' and src['files'][0].endswith(name + '.pcap'), src
assert src['snaplen'] == 262144 and src['filter'] is None, src
assert recs[-1]['records'] == len(ex), recs[-1]
def sub(w, g, where):
    if isinstance(w, dict):
        assert isinstance(g, dict), where
        for k, v in w.items():
            if k == 'absent':
                continue
            assert k in g, f'{where}.{k} missing'
            sub(v, g[k], f'{where}.{k}')
    else:
        assert w == g, f'{where}: expected {w!r}, got {g!r}'
assert len(ex) == len(want), f'{len(want)} records expected, got {len(ex)}'
for i, (w, g) in enumerate(zip(want, ex)):
    for k in w.get('absent', []) + ([] if 'resent_as' in w else ['resent_as']):
        assert k not in g, f'record {i}: {k} expected absent, got {g[k]!r}'
    sub(w, g, f'record {i}')
# every transport attempt names an exchange written after it; the trailer counts them
ids = [r['id'] for r in ex]
for i, r in enumerate(ex):
    if 'resent_as' in r:
        assert r['resent_as'] in ids[i + 1:], f"record {i}: resent_as {r['resent_as']} not later"
assert recs[-1]['stats']['resends']['linked'] == sum('resent_as' in r for r in ex), recs[-1]['stats']
PY
  pass "$name"
}

while read -r name flags; do
  case "$name" in ''|'#'*) continue ;; esac
  # shellcheck disable=SC2086
  check_case "$name" $flags
done < "$FX/cases.txt"

# truncated file: reported on stderr, what was read is kept
"$CAP" -r "$FX/truncated.pcap" -w "$TEST_TMP/t.jsonl.gz" 2>"$TEST_TMP/t.err" || fail "truncated: exit $?"
grep -q "reading stopped" "$TEST_TMP/t.err" || fail "truncated file not reported: $(cat "$TEST_TMP/t.err")"
assert_eq "truncated file counted" 1 "$(zjq "$TEST_TMP/t.jsonl.gz" "trl['stats']['file_errors']")"

# several -r merged by time: every record of both files
"$CAP" -q -r "$FX/one.pcap" -r "$FX/keepalive.pcap" -w "$TEST_TMP/m.jsonl.gz"
assert_eq "merged -r records" 4 "$(zjq "$TEST_TMP/m.jsonl.gz" "len(ex)")"
assert_eq "merged -r starts" "[1700000000001000, 1700000000001000, 1700000000010000, 1700000000020000]" \
  "$(zjq "$TEST_TMP/m.jsonl.gz" "sorted(r['start_us'] for r in ex)")"

# BPF filter from trailing arguments
"$CAP" -q -r "$FX/one.pcap" -w "$TEST_TMP/f1.jsonl.gz" tcp port 8000
assert_eq "filter match" 1 "$(zjq "$TEST_TMP/f1.jsonl.gz" "len(ex)")"
assert_eq "filter in header" '"tcp port 8000"' "$(zjq "$TEST_TMP/f1.jsonl.gz" "json.dumps(hdr['source']['filter'])")"
"$CAP" -q -r "$FX/one.pcap" -w "$TEST_TMP/f2.jsonl.gz" tcp port 9999
assert_eq "filter no match" 0 "$(zjq "$TEST_TMP/f2.jsonl.gz" "len(ex)")"
# --port / --path-prefix / --host selection
"$CAP" -q -r "$FX/pipeline.pcap" -w "$TEST_TMP/p.jsonl.gz" --path-prefix /v1/chat/
assert_eq "--path-prefix" '["/v1/chat/completions"]' "$(zjq "$TEST_TMP/p.jsonl.gz" "[r['request']['path'] for r in ex]")"
"$CAP" -q -r "$FX/pipeline.pcap" -w "$TEST_TMP/p2.jsonl.gz" --all-paths
assert_eq "--all-paths" '["/v1/chat/completions", "/health", "/v1/completions"]' "$(zjq "$TEST_TMP/p2.jsonl.gz" "[r['request']['path'] for r in ex]")"
"$CAP" -q -r "$FX/one.pcap" -w "$TEST_TMP/h.jsonl.gz" --host other.local
assert_eq "--host mismatch" 0 "$(zjq "$TEST_TMP/h.jsonl.gz" "len(ex)")"
"$CAP" -q -r "$FX/one.pcap" -w "$TEST_TMP/h2.jsonl.gz" --host api.local --port 8000
assert_eq "--host/--port match" 1 "$(zjq "$TEST_TMP/h2.jsonl.gz" "len(ex)")"

# --resend-window: in the header's options; bad values are usage errors
"$CAP" -q -r "$FX/resend.pcap" -w "$TEST_TMP/rw.jsonl.gz" --resend-window 250ms
assert_eq "--resend-window 250ms in the header, re-send linked" "[250000, 1]" \
  "$(zjq "$TEST_TMP/rw.jsonl.gz" "[hdr['options']['resend_window_us'], sum('resent_as' in r for r in ex)]")"
"$CAP" -q -r "$FX/resend.pcap" -w "$TEST_TMP/rw0.jsonl.gz" --resend-window 0
assert_eq "--resend-window 0: off" "[0, 0]" \
  "$(zjq "$TEST_TMP/rw0.jsonl.gz" "[hdr['options']['resend_window_us'], sum('resent_as' in r for r in ex)]")"
"$CAP" -r "$FX/resend.pcap" -w "$TEST_TMP/rw1.jsonl.gz" 2>"$TEST_TMP/rw1.err"
grep -q "1 transport re-sends linked (resent_as)" "$TEST_TMP/rw1.err" || fail "summary: $(cat "$TEST_TMP/rw1.err")"
set +e
"$CAP" -r "$FX/resend.pcap" -w "$TEST_TMP/x.jsonl.gz" --resend-window -1s 2>/dev/null
assert_eq "--resend-window -1s → 2" 2 $?
"$CAP" -r "$FX/resend.pcap" -w "$TEST_TMP/x.jsonl.gz" --resend-window 2h 2>/dev/null
assert_eq "--resend-window 2h → 2" 2 $?
set -e

# counters at exit
"$CAP" -r "$FX/malformed.pcap" -w "$TEST_TMP/mal.jsonl.gz" 2>"$TEST_TMP/mal.err"
grep -q "28 packets" "$TEST_TMP/mal.err" || fail "summary: $(cat "$TEST_TMP/mal.err")"
assert_eq "malformed frames counted (all 18 junk frames)" 18 "$(zjq "$TEST_TMP/mal.jsonl.gz" "trl['stats']['parse_errors']['truncated'] + trl['stats']['parse_errors']['invalid'] + trl['stats']['ip']['not_tcp']")"

# exit codes
set +e
"$CAP" -w "$TEST_TMP/x.jsonl.gz" 2>/dev/null; assert_eq "no source → 2" 2 $?
"$CAP" -r /nonexistent.pcap -w "$TEST_TMP/x.jsonl.gz" 2>/dev/null; assert_eq "missing file → 1" 1 $?
"$CAP" --bogus 2>/dev/null; assert_eq "bad option → 2" 2 $?
"$CAP" --help | grep -q "Examples:"; assert_eq "--help" 0 $?
set -e
