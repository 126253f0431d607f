#!/usr/bin/python3
"""tests/interop/check_selftest.py — check.py on hand-made logs: three views that agree pass, and
each kind of disagreement (an unlinked re-send, a hidden re-send, a re-send after a response
byte or on a reused connection, a request served twice, a token count off by one, an invented
error, llama.cpp multisets that differ, a torn log) fails the check it belongs to, and only
that one. Run by ctest as e2e.interop_check (no root, no server)."""
import copy
import gzip
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = 1800000000000000
FAILED = []


def exchange(rid, conn, n, tokens, start, path="/v1/chat/completions", ttfb=100, error=None,
             usage=True, attempts=None, conn_new=None):
    ev = [[ttfb + 10 * k, 1, 1] for k in range(tokens)]
    r = {"type": "exchange", "id": rid, "start_us": start, "conn": conn,
         "request": {"method": "POST", "path": path, "headers": [["X-Request-Id", rid]]},
         "response": {"status": 200 if error is None else None,
                      "ttfb_us": ttfb if error is None else None,
                      "end_us": ttfb + 10 * tokens, "events": ev if error is None else []},
         "usage": {"prompt_tokens": 5, "completion_tokens": tokens} if usage and not error else None,
         "tokens_in": 5 if usage and not error else None,
         "tokens_out": tokens if not error else None,
         "tokens_source": "usage" if usage and not error else "events",
         "error": None if error is None else {"kind": error, "message": "x"}}
    if conn_new is not None:
        r["conn_new"] = conn_new
    if attempts is not None:
        r["replay"] = {"of": "o", "attempts": attempts}
    return r


def world():
    """Three requests; r-2 died once on a reused connection (5.2) and was re-sent on 7.1."""
    rep = [exchange("r-0", "w0:1001", 0, 3, T0, conn_new=True),
           exchange("r-1", "w0:1001", 0, 4, T0 + 1000, conn_new=False),
           exchange("r-2", "w0:1003", 0, 2, T0 + 2000, conn_new=True,
                    attempts=[{"start_us": T0 + 1990, "end_us": 5, "conn": "w0:1001",
                               "conn_new": False, "error": {"kind": "reset", "message": "x"}}])]
    cap_conn = "127.0.0.1:%d>127.0.0.1:8000"
    cap = [dict(exchange("r-0", cap_conn % 1001, 0, 3, T0), id="5.1"),
           dict(exchange("r-1", cap_conn % 1001, 0, 4, T0 + 1000), id="5.2"),
           dict(exchange("r-2", cap_conn % 1001, 0, 0, T0 + 1990, error="reset"), id="5.3",
                resent_as="7.1"),
           dict(exchange("r-2", cap_conn % 1003, 0, 2, T0 + 2000), id="7.1")]
    srv = [{"id": i, "path": "/v1/chat/completions", "status": 200, "stream": True,
            "prompt_tokens": 5, "completion_tokens": t, "content_chunks": t, "disconnected": False}
           for i, t in (("r-0", 3), ("r-1", 4), ("r-2", 2))]
    return rep, cap, srv


def write_log(path, recs, trailer=True):
    with gzip.open(path, "wt") as f:
        f.write(json.dumps({"type": "header", "schema": 1}) + "\n")
        for r in recs:
            f.write(json.dumps(r) + "\n")
        if trailer:
            f.write(json.dumps({"type": "trailer"}) + "\n")


def run(d, name, rep, cap, srv, want_rc, want_fail, extra=(), llama=None, trailer=True):
    write_log(os.path.join(d, "r.gz"), rep)
    write_log(os.path.join(d, "c.gz"), cap, trailer)
    args = [sys.executable, os.path.join(HERE, "check.py"), "--replay", os.path.join(d, "r.gz"),
            "--capture", os.path.join(d, "c.gz")] + list(extra)
    if llama is None:
        with open(os.path.join(d, "s.jsonl"), "w") as f:
            f.writelines(json.dumps(s) + "\n" for s in srv)
        args += ["--uvicorn-log", os.path.join(d, "s.jsonl")]
    else:
        log, before, after = llama
        for fn, text in (("l.txt", log), ("m0", before), ("m1", after)):
            with open(os.path.join(d, fn), "w") as f:
                f.write(text)
        args += ["--llama-log", os.path.join(d, "l.txt"), "--llama-metrics",
                 os.path.join(d, "m0"), os.path.join(d, "m1")]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    fails = sorted(l.split("] " if "] " in l else "FAIL ", 1)[-1].split(":")[0].strip()
                   for l in p.stdout.splitlines() if l.startswith("FAIL"))
    if os.environ.get("VERBOSE"):
        print(p.stdout, end="")
    if p.returncode != want_rc or fails != sorted(want_fail):
        FAILED.append(name)
        print("FAIL: %s: exit %d (want %d), failed checks %s (want %s)\n%s%s" % (
            name, p.returncode, want_rc, fails, sorted(want_fail), p.stdout, p.stderr))
    else:
        print("ok: %s: exit %d, failed checks %s" % (name, p.returncode, fails or "none"))


def main():
    with tempfile.TemporaryDirectory() as d:
        rep, cap, srv = world()
        run(d, "three views agree", rep, cap, srv, 0, [],
            ["--expect-requests", "3", "--expect-errors", "0"])

        c = copy.deepcopy(cap)
        del c[2]["resent_as"]
        run(d, "capture counts the re-send as a request", rep, c, srv, 1,
            ["requests", "errors", "re-sends"])

        r = copy.deepcopy(rep)
        del r[2]["replay"]
        run(d, "replay hides its re-send", r, cap, srv, 1, ["re-sends"])

        c = copy.deepcopy(cap)
        c[2]["response"]["ttfb_us"] = 50
        run(d, "re-sent after a response byte", rep, c, srv, 1, ["re-sends"])

        c = copy.deepcopy(cap)
        c[3]["id"] = "5.4"
        c[2]["resent_as"] = "5.4"
        run(d, "re-sent on a reused connection", rep, c, srv, 1, ["re-sends"])

        c = copy.deepcopy(cap)
        c[2]["id"], c[2]["conn"] = "6.1", "127.0.0.1:1002>127.0.0.1:8000"
        r = copy.deepcopy(rep)
        r[2]["replay"]["attempts"][0]["conn_new"] = True
        run(d, "re-sent after failing on a new connection", r, c, srv, 1, ["re-sends"])

        c = copy.deepcopy(cap)
        c[2]["resent_as"] = "9.9"
        run(d, "resent_as names no exchange", rep, c, srv, 1, ["re-sends"])

        s = copy.deepcopy(srv) + [dict(srv[2])]
        run(d, "the server ran a request twice", rep, cap, s, 1, ["requests", "re-sends"])

        c = copy.deepcopy(cap)
        c[1]["tokens_out"] = 5
        run(d, "capture's token count differs", rep, c, srv, 1, ["completion tokens"])

        s = copy.deepcopy(srv)
        s[0]["completion_tokens"] = 2
        run(d, "the server's token count differs", rep, cap, s, 1, ["completion tokens"])

        c = copy.deepcopy(cap)
        c[1]["response"]["events"] = c[1]["response"]["events"][:-1]
        run(d, "capture missed a stream event", rep, c, srv, 1, ["stream events"])

        r = copy.deepcopy(rep)
        r[1] = exchange("r-1", "w0:1001", 0, 0, T0 + 1000, error="reset", conn_new=False)
        run(d, "replay invents an error", r, cap, srv, 1,
            ["completion tokens", "prompt tokens", "stream events", "errors", "expected"],
            ["--expect-errors", "0"])

        run(d, "expected count", rep, cap, srv, 1, ["expected"], ["--expect-requests", "4"])
        run(d, "torn capture log", rep, cap, srv, 2, [], trailer=False)

        # llama.cpp: no ids on the server side; counts and multisets from its log and /metrics
        lines = []
        for t in (3, 4, 2):
            lines += ["slot launch_slot_: id  0 | task 1 | processing task",
                      "slot update_slots: id  0 | task 1 | new prompt, n_ctx_slot = 1024, "
                      "n_keep = 0, n_prompt_tokens = 5",
                      "       eval time =       1.64 ms /     %d tokens (0.3 ms per token)" % t,
                      "srv  log_server_r: request: POST /v1/chat/completions 127.0.0.1 200"]
        log = "\n".join(lines) + "\n"
        m0 = "llamacpp:tokens_predicted_total 100\n"
        run(d, "llama.cpp agrees", rep, cap, None, 0, [],
            llama=(log, m0, "llamacpp:tokens_predicted_total 109\n"))
        run(d, "llama.cpp /metrics differs", rep, cap, None, 1, ["completion tokens"],
            llama=(log, m0, "llamacpp:tokens_predicted_total 110\n"))
        run(d, "llama.cpp served one task fewer", rep, cap, None, 1,
            ["requests", "completion tokens", "prompt tokens"],
            llama=("\n".join(lines[4:]) + "\n", m0, "llamacpp:tokens_predicted_total 106\n"))
    if FAILED:
        print("check_selftest: %d case(s) failed: %s" % (len(FAILED), ", ".join(FAILED)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
