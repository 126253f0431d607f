# analyze_progress: llmtrace-analyze and llmtrace-convert show progress on stderr when it is a
# terminal (a pseudo-terminal here), rewritten in place and erased when done, and print none
# when it is not one or with -q.
source "$(dirname "$0")/lib.sh"
cd "$TEST_TMP"
# on_pty CMD…: runs CMD with stderr on a pseudo-terminal (stdout to out.txt); prints stderr's bytes
on_pty() {
  /usr/bin/python3 - "$@" <<'PY'
import os, pty, subprocess, sys
m, s = pty.openpty()
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=open('out.txt', 'wb'), stderr=s)
os.close(s)
buf = b''
while True:
    try:
        b = os.read(m, 65536)
    except OSError:
        break
    if not b:
        break
    buf += b
p.wait(timeout=120)
sys.stdout.write(repr(buf))
sys.exit(p.returncode)
PY
}
S=$SRC_DIR/examples/sample_trace.jsonl.gz
got=$(on_pty "$BIN/llmtrace-analyze" "$S")
case "$got" in
  *'\r\x1b[Kllmtrace-analyze: '*'sample_trace.jsonl.gz: 0 records'*'\r\x1b[K'*) pass "analyze: progress on a terminal" ;;
  *) fail "analyze progress on a terminal: $got" ;;
esac
grep -q '^sample_trace ' out.txt || fail "the table still goes to stdout"
assert_eq "analyze -q: none" "b''" "$(on_pty "$BIN/llmtrace-analyze" -q "$S")"
"$BIN/llmtrace-analyze" "$S" > /dev/null 2> plain.err
assert_eq "analyze, stderr not a terminal: none" "" "$(cat plain.err)"

got=$(on_pty "$BIN/llmtrace-convert" "$DATA/AzureLLMInferenceTrace_conv.csv" -o az.jsonl.gz)
case "$got" in
  *'\r\x1b[Kllmtrace-convert: '*'AzureLLMInferenceTrace_conv.csv: reading'*'writing 0 of 19366 records'*'\r\x1b[K'*'wrote 19366 records'*) pass "convert: progress on a terminal" ;;
  *) fail "convert progress on a terminal: $got" ;;
esac
got=$(on_pty "$BIN/llmtrace-convert" --to csv az.jsonl.gz -o az.csv)
case "$got" in
  *'\r\x1b[Kllmtrace-convert: az.jsonl.gz: 0 exchanges exported'*'\r\x1b[K'*'exported 19366 exchanges'*) pass "convert --to: progress" ;;
  *) fail "convert --to progress: $got" ;;
esac
assert_eq "convert -q: none" "b''" "$(on_pty "$BIN/llmtrace-convert" -q --to csv az.jsonl.gz -o az2.csv)"
"$BIN/llmtrace-convert" --to csv az.jsonl.gz -o az3.csv 2> plain.err
assert_eq "convert, stderr not a terminal: the summary only" "llmtrace-convert: exported 19366 exchanges" "$(cat plain.err)"
echo "analyze_progress: all passed"
