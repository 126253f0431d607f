#!/usr/bin/python3
"""sessions_check.py — checks a llmtrace-replay --sessions log against the input it replayed,
session by session, and prints one JSON object of findings (the e2e tests assert on it):

  sessions, turns            what the run sent
  missing, reordered         input turns of a started session that are absent / out of order
  early                      turns that started before their predecessor's response end
  sched_err_max_us           worst |sched − (previous end + expected think)| (the schedule)
  lag_p50_us, lag_p95_us, lag_max_us   start − sched over turns after the first (send lateness)
  think_err_max_us, think_err_p95_us   worst / p95 |session.think_us − expected think|
                             (think time as kept)
  max_open                   most sessions open at once (first turn's start → last turn's end)
  first_err_max_us           worst error of first turns' schedule against the input's start
                             offsets / S, both taken from the earliest first turn (original and
                             --speed timing only; rate and closed-loop runs ignore it)
  live_ok, live_bad          turns whose messages carry the previous turn's response text

usage: sessions_check.py INPUT.jsonl.gz RUN.jsonl.gz [--think-us T] [--speed S]
  expected think: T when given, else the input's session.think_us / S, else the recorded gap
  (next start − previous start − previous end) / S.
"""
import gzip
import json
import sys


def load(path):
    op = gzip.open if open(path, 'rb').read(2) == b'\x1f\x8b' else open
    with op(path, 'rt') as f:
        return [json.loads(l) for l in f if l.strip()]


def pct(v, q):
    if not v:
        return None
    v = sorted(v)
    pos = q * (len(v) - 1)
    lo = int(pos)
    return v[lo] if lo + 1 >= len(v) else v[lo] + (pos - lo) * (v[lo + 1] - v[lo])


def main():
    args = sys.argv[1:]
    think_fixed, speed = None, 1.0
    if '--think-us' in args:
        i = args.index('--think-us')
        think_fixed = int(args[i + 1])
        del args[i:i + 2]
    if '--speed' in args:
        i = args.index('--speed')
        speed = float(args[i + 1])
        del args[i:i + 2]
    inp = [r for r in load(args[0]) if r.get('type') == 'exchange']
    run = [r for r in load(args[1]) if r.get('type') == 'exchange']
    by_id = {r['id']: r for r in inp}
    rec_turns = {}
    for r in inp:
        s = r.get('session')
        if s:
            rec_turns.setdefault(s['id'], []).append(r)
    for v in rec_turns.values():
        v.sort(key=lambda r: (r['session']['turn'], r['start_us']))
    sess = {}
    for r in run:
        if r.get('session'):
            sess.setdefault(r['session']['id'], []).append(r)
    out = {'sessions': len(sess), 'turns': sum(len(v) for v in sess.values()), 'missing': 0,
           'reordered': 0, 'early': 0, 'sched_err_max_us': 0, 'think_err_max_us': 0,
           'live_ok': 0, 'live_bad': 0}
    lags, think_errs, spans, firsts = [], [], [], []
    for sid, turns in sess.items():
        turns.sort(key=lambda r: r['start_us'])
        last = turns[-1]
        spans.append((turns[0]['start_us'], last['start_us'] + (last['response'].get('end_us') or 0)))
        firsts.append((turns[0]['replay']['sched_us'], by_id[turns[0]['replay']['of']]['start_us']))
        got = [by_id[r['replay']['of']]['session']['turn'] for r in turns]
        want = [r['session']['turn'] for r in rec_turns.get(sid, [])]
        want = [t for t in want if t >= got[0]]
        out['missing'] += len([t for t in want if t not in got])
        out['reordered'] += got != sorted(got)
        for a, b in zip(turns, turns[1:]):
            end = a['start_us'] + a['response']['end_us']
            if b['start_us'] < end:
                out['early'] += 1
            ra, rb = by_id[a['replay']['of']], by_id[b['replay']['of']]
            if think_fixed is not None:
                think = think_fixed
            elif rb['session'].get('think_us') is not None:
                think = rb['session']['think_us'] / speed
            else:
                gap = rb['start_us'] - ra['start_us'] - max(ra['response'].get('end_us') or 0, 0)
                think = max(gap, 0) / speed
            out['sched_err_max_us'] = max(out['sched_err_max_us'],
                                          abs(b['replay']['sched_us'] - end - think))
            think_errs.append(abs(b['session']['think_us'] - think))
            out['think_err_max_us'] = max(out['think_err_max_us'], think_errs[-1])
            lags.append(b['start_us'] - b['replay']['sched_us'])
            msgs = (b['request'].get('body') or {}).get('messages') or []
            text = a['response'].get('text')
            prior = (a['request'].get('body') or {}).get('messages') or []
            if len(msgs) > len(prior) and isinstance(msgs[len(prior)].get('content'), str):
                out['live_ok' if msgs[len(prior)]['content'] == text else 'live_bad'] += 1
            else:
                out['live_bad'] += 1
    out['lag_p50_us'] = pct(lags, 0.5)
    out['lag_p95_us'] = pct(lags, 0.95)
    out['lag_max_us'] = max(lags) if lags else None
    out['think_err_p95_us'] = pct(think_errs, 0.95)
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans], key=lambda e: (e[0], e[1]))
    n = out['max_open'] = 0
    for _, d in edges:  # (an end sorts before a start at the same instant)
        n += d
        out['max_open'] = max(out['max_open'], n)
    if firsts:
        s0, r0 = min(f[0] for f in firsts), min(f[1] for f in firsts)
        out['first_err_max_us'] = max(abs((s - s0) - (r - r0) / speed) for s, r in firsts)
    print(json.dumps(out, sort_keys=True))


main()
