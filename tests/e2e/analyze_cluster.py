# analyze_cluster.py OUT.jsonl — a sweep log whose stages crowd together (1…8 at one latency and
# little throughput, 32…64 on a plateau): the throughput–latency chart must still place every
# stage label apart.
import json, sys
T = 1700000000000000
out = open(sys.argv[1], 'w')
out.write(json.dumps({"type": "header", "schema": 1, "tool": "handmade", "version": "0", "start_us": T}) + "\n")
i = 0
t = T
for st, lat, rate in [(1, 100, 1), (2, 101, 2), (4, 102, 4), (8, 104, 8), (16, 120, 60), (24, 160, 82), (32, 168, 83), (48, 170, 83), (64, 172, 84)]:
    for k in range(10):
        start = t + k * 1000000 // rate
        ev = [[lat * 1000 // 4 * (j + 1), 1, 1] for j in range(4)]
        out.write(json.dumps({"type": "exchange", "id": "x%d" % i, "start_us": start,
            "request": {"method": "POST", "path": "/v1/completions", "headers": []},
            "response": {"status": 200, "ttfb_us": ev[0][0], "end_us": lat * 1000 + k * 300, "events": ev},
            "usage": None, "tokens_in": None, "tokens_out": 40, "tokens_source": "usage", "error": None,
            "replay": {"of": "o%d" % i, "sched_us": start, "stage": st, "mode": "concurrency"}}) + "\n")
        i += 1
    t += 2000000
