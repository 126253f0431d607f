#!/usr/bin/env python3
"""tserr.py — timestamp error of llmtrace-replay against llmtrace-sim's ground truth.

Every replayed request carries X-Request-Id = its record id, and the simulator logs each
exchange under that id with the time it wrote every stream event to the socket. For each
request found in both logs, the i-th content event of the replay record is matched with the
i-th content event of the simulator record; error = replay's receive time - simulator's send
time (absolute epoch µs: start_us + offset). The simulator reads its clock just before write();
with replay's default --timestamps kernel the error is the loopback delivery up to the kernel's
receive stamp, with --timestamps user it adds the client's wake-up and queueing.

usage: tserr.py REPLAY.jsonl.gz SIM.jsonl.gz [--json]
Percentiles: linear interpolation between order statistics (NumPy's default)."""
import gzip
import json
import sys


def load(path):
    out = {}
    with gzip.open(path, "rt") as f:
        for line in f:
            if '"exchange"' not in line:
                continue
            r = json.loads(line)
            if r.get("type") == "exchange":
                out[r["id"]] = r
    return out


def content_times(r):
    return [r["start_us"] + e[0] for e in (r.get("response") or {}).get("events") or [] if e[2]]


def pct(v, q):
    if not v:
        return float("nan")
    pos = q * (len(v) - 1)
    lo = int(pos)
    if lo + 1 >= len(v):
        return float(v[-1])
    return v[lo] + (pos - lo) * (v[lo + 1] - v[lo])


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rep, sim = load(sys.argv[1]), load(sys.argv[2])
    errs, matched, mismatched = [], 0, 0
    for rid, r in rep.items():
        s = sim.get(rid)
        if s is None or r.get("error"):
            continue
        a, b = content_times(r), content_times(s)
        if len(a) != len(b):
            mismatched += 1
            continue
        matched += 1
        errs += [x - y for x, y in zip(a, b)]
    errs.sort()
    res = {"requests": matched, "count_mismatch": mismatched, "events": len(errs),
           "p50_us": pct(errs, 0.5), "p90_us": pct(errs, 0.9), "p99_us": pct(errs, 0.99),
           "p999_us": pct(errs, 0.999), "min_us": errs[0] if errs else None,
           "max_us": errs[-1] if errs else None,
           "mean_us": sum(errs) / len(errs) if errs else None}
    if "--json" in sys.argv:
        print(json.dumps(res))
    else:
        print("requests %d (%d with different event counts), events %d: error p50 %.0f us, "
              "p90 %.0f, p99 %.0f, p99.9 %.0f, min %s, max %s" % (
                  matched, mismatched, len(errs), res["p50_us"], res["p90_us"], res["p99_us"],
                  res["p999_us"], res["min_us"], res["max_us"]))


if __name__ == "__main__":
    main()
