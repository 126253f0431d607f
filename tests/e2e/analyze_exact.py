# analyze_exact.py LOG ANALYZE.json ANALYZE.csv — recomputes, from the log alone and with the
# standard library only, what llmtrace-analyze --json --by stage reports per stage: TTFT, TPOT,
# ITL, ITL per token and E2E distributions (percentiles by linear interpolation between order
# statistics, NumPy's default), output tokens/s, requests/s; then checks analyze's JSON to
# 1e-12 relative and its CSV to the last bit. Definitions: analyze/README.md. Exit 1 on a
# mismatch, naming it.
import csv, gzip, json, math, statistics, sys

log, js_path, csv_path = sys.argv[1:4]
op = gzip.open if open(log, 'rb').read(2) == b'\x1f\x8b' else open
with op(log, 'rt') as f:
    recs = [json.loads(l) for l in f if l.strip()]
ex = [r for r in recs if r.get('type') == 'exchange']


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    h = (len(xs) - 1) * p / 100
    lo = math.floor(h)
    if lo >= len(xs) - 1:
        return xs[-1]
    return xs[lo] + (h - lo) * (xs[lo + 1] - xs[lo])


def dist(xs):
    if not xs:
        return None
    return {'n': len(xs), 'mean': statistics.fmean(xs),
            'stddev': statistics.stdev(xs) if len(xs) > 1 else 0.0, 'min': min(xs),
            'p50': pct(xs, 50), 'p90': pct(xs, 90), 'p95': pct(xs, 95), 'p99': pct(xs, 99),
            'p999': pct(xs, 99.9), 'max': max(xs)}


groups = {}
for x in ex:
    if x.get('resent_as') or (x.get('replay') or {}).get('warmup'):
        continue
    groups.setdefault((x.get('replay') or {}).get('stage'), []).append(x)

want = {}
for stage, xs in groups.items():
    g = {k: [] for k in ('ttft_ms', 'tpot_ms', 'itl_ms', 'itl_token_ms', 'e2e_ms')}
    t0 = min(x['start_us'] for x in xs)
    end = max(x['start_us'] + x['response']['end_us'] for x in xs)
    out_tok = sum(x['tokens_out'] for x in xs if x['tokens_out'] is not None)
    ok = 0
    for x in xs:
        rs = x['response']
        if x['error'] is not None or (rs['status'] or 0) >= 400:
            continue
        ok += 1
        content = [e for e in rs['events'] if e[2] in (1, True)]
        if content:
            g['ttft_ms'].append(content[0][0] / 1e3)
        n = x['tokens_out']
        if n is not None and n >= 2 and len(content) >= 2:
            g['tpot_ms'].append((content[-1][0] - content[0][0]) / (n - 1) / 1e3)
        for a, b in zip(content, content[1:]):
            gap = b[0] - a[0]
            g['itl_ms'].append(gap / 1e3)
            k = b[1] if b[1] > 1 else 1
            g['itl_token_ms'] += [gap / 1e3 / k] * k
        g['e2e_ms'].append(rs['end_us'] / 1e3)
    span = (end - t0) / 1e6
    w = {k: dist(v) for k, v in g.items()}
    w['output_tok_s'] = out_tok / span
    w['req_s'] = len(xs) / span
    w['ok_req_s'] = ok / span
    w['requests'] = len(xs)
    want[stage] = w

got = json.load(open(js_path))
# groups that only hold excluded records (warm-up) have no requests to check
got['groups'] = [g for g in got['groups'] if g['requests'] > 0]
bad = 0
checked = 0


def close(a, b):
    return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b))


if sorted(want, key=str) != sorted((g['stage'] for g in got['groups']), key=str):
    print('stages differ: %s vs %s' % (sorted(want), [g['stage'] for g in got['groups']]))
    sys.exit(1)
for g in got['groups']:
    w = want[g['stage']]
    for k in ('output_tok_s', 'req_s', 'ok_req_s', 'requests'):
        checked += 1
        if not close(g[k], w[k]):
            print('stage %s %s: analyze %r, independent %r' % (g['stage'], k, g[k], w[k]))
            bad += 1
    for m in ('ttft_ms', 'tpot_ms', 'itl_ms', 'itl_token_ms', 'e2e_ms'):
        for k, v in w[m].items():
            checked += 1
            if not close(g[m][k], v):
                print('stage %s %s.%s: analyze %r, independent %r' % (g['stage'], m, k, g[m][k], v))
                bad += 1
# CSV: the same doubles, bit for bit
rows = [r for r in csv.DictReader(open(csv_path)) if int(r['requests']) > 0]
for g, r in zip(got['groups'], rows):
    for m in ('ttft_ms', 'tpot_ms', 'itl_ms', 'itl_token_ms', 'e2e_ms'):
        for k in ('mean', 'stddev', 'p50', 'p90', 'p99', 'p999'):
            checked += 1
            if float(r['%s_%s' % (m, k)]) != g[m][k]:
                print('csv %s_%s: %s, json %r' % (m, k, r['%s_%s' % (m, k)], g[m][k]))
                bad += 1
    for k in ('output_tok_s', 'req_s', 'span_s'):
        checked += 1
        if float(r[k]) != g[k]:
            print('csv %s: %s, json %r' % (k, r[k], g[k]))
            bad += 1
print('%d values checked, %d differ' % (checked, bad))
sys.exit(1 if bad else 0)
