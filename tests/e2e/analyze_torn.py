# analyze_torn.py ANALYZE DIR — one rule for empty and torn logs, at every cut offset of a small
# multi-member log: llmtrace-analyze exits 0 with exactly the exchanges a reader can recover
# (the complete lines of every complete member, plus the complete lines zlib can inflate from
# the torn last one, computed here with Python's zlib, independently of llmtrace's reader),
# and exits 1 with "no exchange record (reason)" when there are none. Prints one line; exit 1
# on the first disagreement.
import gzip, json, subprocess, sys, zlib

analyze, d = sys.argv[1:3]
T = 1700000000000000


def ex(i):
    return {"type": "exchange", "id": "e%d" % i, "start_us": T + i * 100000,
            "request": {"method": "POST", "path": "/v1/completions", "headers": []},
            "response": {"status": 200, "ttfb_us": 1000, "end_us": 5000,
                         "events": [[2000, 1, 1], [4000, 1, 1]]},
            "usage": None, "tokens_in": None, "tokens_out": 2, "tokens_source": "events",
            "error": None}


members = [[{"type": "header", "schema": 1, "tool": "handmade", "version": "0", "start_us": T}],
           [ex(0), ex(1)], [ex(2)], [ex(3), ex(4), ex(5)],
           [{"type": "trailer", "end_us": T + 10 ** 6, "records": 6, "errors": 0, "stats": {}}]]
blobs = [gzip.compress(''.join(json.dumps(r) + '\n' for r in m).encode(), mtime=0)
         for m in members]
log = b''.join(blobs)
starts = []
off = 0
for b in blobs:
    starts.append(off)
    off += len(b)


def expected(k):
    """Exchange lines a reader recovers from the first k bytes."""
    text = b''
    for s, b in zip(starts, blobs):
        if s + len(b) <= k:
            text += zlib.decompress(b, 31)
        elif s < k:
            text += zlib.decompressobj(31).decompress(b[:k - s])
    lines = text.split(b'\n')[:-1]  # the part after the last newline is torn
    return sum(1 for l in lines if b'"exchange"' in l)


cuts = 0
for k in range(len(log) + 1):
    p = '%s/cut.jsonl.gz' % d
    open(p, 'wb').write(log[:k])
    r = subprocess.run([analyze, '--json', p], capture_output=True, text=True, timeout=30)
    want = expected(k)
    if want == 0:
        if r.returncode != 1 or 'no exchange record (' not in r.stderr or r.stdout:
            print('cut at %d: want exit 1 and "no exchange record", got %d: %r %r'
                  % (k, r.returncode, r.stdout[:200], r.stderr))
            sys.exit(1)
    else:
        got = json.loads(r.stdout)['groups'][0]['requests'] if r.returncode == 0 else None
        if r.returncode != 0 or got != want:
            print('cut at %d: want exit 0 and %d requests, got %d, %r: %s'
                  % (k, want, r.returncode, got, r.stderr))
            sys.exit(1)
        if k < len(log) and 'not closed cleanly' not in r.stderr and 'torn tail' not in r.stderr:
            print('cut at %d: torn log not reported: %r' % (k, r.stderr))
            sys.exit(1)
    cuts += 1
print('%d cut offsets of a %d-byte, %d-member log agree' % (cuts, len(log), len(blobs)))
