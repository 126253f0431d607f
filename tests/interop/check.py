#!/usr/bin/python3
"""tests/interop/check.py — the three-way check of one replay against a real server: what
llmtrace-replay recorded, what llmtrace-capture saw on the wire, and what the server itself says
it served, compared request by request. Prints one line per check (`ok` or `FAIL`, with the
numbers) and a verdict; exits 1 when any check disagrees, 2 when an input is unusable.

    check.py --replay R.jsonl.gz --capture C.jsonl.gz --uvicorn-log S.jsonl [expectations]
    check.py --replay R.jsonl.gz --capture C.jsonl.gz --llama-log L.txt \
             [--llama-metrics BEFORE.txt AFTER.txt] [expectations]

What each side is compared on:
  replay   one record per request (`replay.attempts`: its earlier, re-sent attempts);
           `tokens_out`/`tokens_in`, `response.events`, `error.kind`.
  capture  one exchange per request on the wire; an exchange with `resent_as` is a transport
           attempt of the exchange it names, not a request. Matched to replay by the
           `X-Request-Id` header replay sends. Exchanges sharing an X-Request-Id are the
           client's re-sends seen on the wire, whether or not capture linked them.
  server   uvicorn (tests/interop/server.py --log): one line per request that reached the app,
           by X-Request-Id, with the tokens it sent. llama.cpp has no request id: its stdout log
           gives one `launch_slot_: … processing task` line per request (one task each), one
           `log_server_r: request: POST …` line per chat request served with its status (none
           for /v1/completions, which it skips), one `n_prompt_tokens = N` line per task and one
           `eval time = … / N tokens` line per finished task, and `/metrics` (`--metrics`)
           `llamacpp:tokens_predicted_total`; these are compared as counts and multisets.
           Its per-request statement is the usage of each stream's last chunk (the slot's
           n_decoded, as `timings.predicted_n`): capture records it from the wire.
Expectations: --expect-requests N, --expect-errors N (per kind: --expect-error KIND=N).
Only the OpenAI paths below are counted; /health and /metrics are not requests here.
"""
import argparse
import collections
import gzip
import json
import re
import sys

PATHS = ("/v1/chat/completions", "/v1/completions")


class Unusable(Exception):
    pass


def read_log(path, what):
    """Every record of a trace log; a log without its trailer (torn, killed) is unusable."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        text = gzip.decompress(raw).decode("utf-8") if raw[:2] == b"\x1f\x8b" else raw.decode()
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as e:
        raise Unusable("%s log %s: %s" % (what, path, e))
    recs = []
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip():
            try:
                recs.append(json.loads(line))
            except ValueError as e:
                raise Unusable("%s log %s: line %d: %s" % (what, path, n, e))
    if not recs or recs[0].get("type") != "header":
        raise Unusable("%s log %s: no header record" % (what, path))
    if recs[-1].get("type") != "trailer":
        raise Unusable("%s log %s: no trailer (not closed cleanly)" % (what, path))
    return [r for r in recs if r.get("type") == "exchange"]


def header(rec, name):
    for h in (rec.get("request") or {}).get("headers") or []:
        if isinstance(h, list) and len(h) == 2 and str(h[0]).lower() == name:
            return h[1]
    return None


def path_of(rec):
    p = (rec.get("request") or {}).get("path") or ""
    return p.split("?", 1)[0]


def kind(rec):
    e = rec.get("error")
    return e.get("kind") if isinstance(e, dict) else None


def events(rec):
    ev = (rec.get("response") or {}).get("events") or []
    return len(ev), sum(1 for e in ev if len(e) > 2 and e[2])


def port_of_replay(rec):
    c = rec.get("conn") or ""
    return c.rsplit(":", 1)[-1] if ":" in c else None


def port_of_capture(rec):
    c = (rec.get("conn") or "").split(">", 1)[0]
    return c.rsplit(":", 1)[-1] if ":" in c else None


def kinds(recs):
    return dict(sorted(collections.Counter(k for k in map(kind, recs) if k).items()))


def fmt_kinds(d):
    return "{" + ", ".join("%s: %d" % kv for kv in d.items()) + "}" if d else "{}"


def ids_sample(ids, n=4):
    ids = sorted(ids)
    return ", ".join(ids[:n]) + (", …" if len(ids) > n else "")


class Report:
    def __init__(self, label):
        self.label, self.n, self.failed = label, 0, 0

    def line(self, ok, what, text):
        self.n += 1
        self.failed += 0 if ok else 1
        print("%-4s %s%s: %s" % ("ok" if ok else "FAIL", self.label, what, text))


def load_uvicorn(path):
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        r = json.loads(line)
                    except ValueError as e:
                        raise Unusable("server log %s: line %d: %s" % (path, n, e))
                    if r.get("path") in PATHS:
                        out.append(r)
    except OSError as e:
        raise Unusable("server log %s: %s" % (path, e))
    return out


LLAMA_REQ = re.compile(r"log_server_r: request: POST (/v1/(?:chat/)?completions) \S+ (\d{3})")
LLAMA_TASK = re.compile(r"launch_slot_: .*\| processing task")
LLAMA_PROMPT = re.compile(r"new prompt, .*n_prompt_tokens = (\d+)")
LLAMA_EVAL = re.compile(r"^\s*eval time =.*/\s*(\d+) (?:tokens|runs)")


class LlamaView:
    """What llama-server's output says about one run: tasks started (one per request), the
    POST lines it logged with their status (it logs none for /v1/completions:
    examples/server/server.cpp, log_server_request), prompt tokens per task, generated tokens
    per finished task."""

    def __init__(self, path):
        self.tasks, self.posts, self.prompt, self.evals = 0, [], [], []
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    m = LLAMA_REQ.search(line)
                    if m:
                        self.posts.append((m.group(1), int(m.group(2))))
                    elif LLAMA_TASK.search(line):
                        self.tasks += 1
                    elif LLAMA_PROMPT.search(line):
                        self.prompt.append(int(LLAMA_PROMPT.search(line).group(1)))
                    elif LLAMA_EVAL.search(line):
                        self.evals.append(int(LLAMA_EVAL.search(line).group(1)))
        except OSError as e:
            raise Unusable("llama.cpp log %s: %s" % (path, e))


def metric(path, name):
    try:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) == 2 and p[0] == name:
                    return float(p[1])
    except OSError as e:
        raise Unusable("metrics %s: %s" % (path, e))
    raise Unusable("metrics %s: no %s" % (path, name))


def check(a):
    rep = Report("[%s] " % a.label if a.label else "")
    rx = [r for r in read_log(a.replay, "replay") if path_of(r) in PATHS]
    cx_all = [r for r in read_log(a.capture, "capture") if path_of(r) in PATHS]

    # replay: one record per request, keyed by the X-Request-Id it sent
    rby = {}
    for r in rx:
        rid = header(r, "x-request-id") or r.get("id")
        if rid in rby:
            raise Unusable("replay log: two records with request id %s" % rid)
        rby[rid] = r
    attempts = sum(len((r.get("replay") or {}).get("attempts") or []) for r in rx)

    # capture: requests = exchanges without resent_as; the wire's own view of re-sends =
    # exchanges whose X-Request-Id is seen again later on another exchange
    cx = [r for r in cx_all if not r.get("resent_as")]
    linked = [r for r in cx_all if r.get("resent_as")]
    by_cid = {r.get("id"): r for r in cx_all}
    cgroups = collections.defaultdict(list)
    for r in cx_all:
        cgroups[header(r, "x-request-id")].append(r)
    for g in cgroups.values():
        g.sort(key=lambda r: r.get("start_us") or 0)
    wire_resends = sum(len(g) - 1 for k, g in cgroups.items() if k is not None)
    cby = {}
    for k, g in cgroups.items():
        if k is None:
            continue
        unl = [r for r in g if not r.get("resent_as")]
        cby[k] = unl[-1] if unl else g[-1]
    no_id = len(cgroups.get(None, []))

    # server
    sby, sdup, server_n = {}, 0, None
    if a.uvicorn_log:
        sl = load_uvicorn(a.uvicorn_log)
        server_n = len(sl)
        for s in sl:
            if s.get("id") in sby:
                sdup += 1
            sby.setdefault(s.get("id"), s)
    llama = None
    if a.llama_log:
        llama = LlamaView(a.llama_log)
        server_n = llama.tasks

    n_r, n_c = len(rx), len(cx)
    # 1. requests counted
    ok = n_r == n_c == server_n and no_id == 0
    text = "replay %d, capture %d (%d exchanges, %d linked as transport retries%s), server %d" % (
        n_r, n_c, len(cx_all), len(linked), ", %d without X-Request-Id" % no_id if no_id else "",
        server_n)
    if a.uvicorn_log and sdup:
        text += " (%d request ids served twice)" % sdup
    if llama:
        text += " tasks (%d POST lines logged, %d of them chat)" % (
            len(llama.posts), sum(1 for p, _ in llama.posts if "chat" in p))
        chat_r = sum(1 for r in rx if path_of(r) == PATHS[0])
        ok = ok and chat_r == sum(1 for p, _ in llama.posts if p == PATHS[0])
    rep.line(ok, "requests", text)

    # 2. the same requests on every side
    rset, cset = set(rby), set(cby)
    miss_c, extra_c = rset - cset, cset - rset
    parts = ["%d ids in replay" % len(rset)]
    ok = not miss_c and not extra_c
    if miss_c:
        parts.append("%d not on the wire (%s)" % (len(miss_c), ids_sample(miss_c)))
    if extra_c:
        parts.append("%d on the wire only (%s)" % (len(extra_c), ids_sample(extra_c)))
    if a.uvicorn_log:
        sset = set(sby)
        # a request that failed before the server read it is legitimately absent there
        failed_early = {i for i in rset if kind(rby[i]) in ("connect", "connect_timeout", "reset")
                        and i not in sset}
        miss_s, extra_s = rset - sset - failed_early, sset - rset
        ok = ok and not miss_s and not extra_s
        if miss_s:
            parts.append("%d not served by the server (%s)" % (len(miss_s), ids_sample(miss_s)))
        if extra_s:
            parts.append("%d served but not in replay (%s)" % (len(extra_s), ids_sample(extra_s)))
        if failed_early:
            parts.append("%d failed before the server read them" % len(failed_early))
    if len(parts) == 1:
        parts.append("the same on every side")
    rep.line(ok, "request ids", ", ".join(parts))

    # 3. completion tokens, per request
    both = sorted(rset & cset)
    bad = []
    for i in both:
        r, c = rby[i], cby[i]
        vals = [r.get("tokens_out"), c.get("tokens_out")]
        if a.uvicorn_log and i in sby:
            vals.append(sby[i].get("completion_tokens"))
        if len(set(vals)) != 1:
            bad.append("%s %s" % (i, "/".join(map(str, vals))))
    tr = sum(r.get("tokens_out") or 0 for r in rx)
    tc = sum(r.get("tokens_out") or 0 for r in cx)
    text = "%d/%d requests equal; total replay %d, capture %d" % (len(both) - len(bad), len(both),
                                                                   tr, tc)
    ok = not bad and tr == tc
    if a.uvicorn_log:
        ts = sum(s.get("completion_tokens") or 0 for s in sby.values())
        text += ", server %d" % ts
        ok = ok and ts == tr
    if llama:
        served = sorted(llama.evals)
        mine = sorted(r.get("tokens_out") for r in rx if r.get("error") is None)
        text += ", server log %d (%d finished tasks)" % (sum(served), len(served))
        same = served == mine
        if not same:
            text += "; multisets differ: replay %s vs server %s" % (
                dict(collections.Counter(mine)), dict(collections.Counter(served)))
        ok = ok and same
        if a.llama_metrics:
            d = (metric(a.llama_metrics[1], "llamacpp:tokens_predicted_total")
                 - metric(a.llama_metrics[0], "llamacpp:tokens_predicted_total"))
            text += ", /metrics tokens_predicted_total +%d" % d
            ok = ok and int(d) == tr
    if bad:
        text += "; differ (replay/capture/server): " + ", ".join(bad[:4]) + (
            ", …" if len(bad) > 4 else "")
    srcs = collections.Counter(r.get("tokens_source") for r in rx)
    text += " [replay tokens_source %s]" % ", ".join("%s %d" % kv for kv in sorted(srcs.items(),
                                                                                   key=str))
    rep.line(ok, "completion tokens", text)

    # 4. prompt tokens, where the response reported them
    bad, n = [], 0
    for i in both:
        r, c = rby[i], cby[i]
        if r.get("tokens_in") is None and c.get("tokens_in") is None:
            continue
        n += 1
        vals = [r.get("tokens_in"), c.get("tokens_in")]
        if a.uvicorn_log and i in sby:
            vals.append(sby[i].get("prompt_tokens"))
        if len(set(vals)) != 1:
            bad.append("%s %s" % (i, "/".join(map(str, vals))))
    ok = not bad
    text = "%d/%d requests with usage equal" % (n - len(bad), n)
    if llama:
        mine = sorted(r.get("tokens_in") for r in rx if r.get("tokens_in") is not None)
        served = sorted(llama.prompt)
        # a task the server started but whose request failed has no usage on the client
        same = mine == served or (not mine and not any(r.get("usage") for r in rx))
        text += "; replay multiset %s server log (%d tasks)" % ("=" if same else "≠", len(served))
        ok = ok and same
    if bad:
        text += "; differ (replay/capture/server): " + ", ".join(bad[:4])
    rep.line(ok, "prompt tokens", text)

    # 5. stream events, per request: replay and capture saw the same bytes
    bad = []
    for i in both:
        er, ec = events(rby[i]), events(cby[i])
        if er != ec:
            bad.append("%s %d/%d vs %d/%d" % (i, er[0], er[1], ec[0], ec[1]))
        elif a.uvicorn_log and i in sby and sby[i].get("stream") and \
                sby[i].get("content_chunks") != er[1]:
            bad.append("%s content %d, server sent %s" % (i, er[1], sby[i].get("content_chunks")))
    nev = sum(events(rby[i])[0] for i in both)
    ncon = sum(events(rby[i])[1] for i in both)
    text = "%d/%d requests equal (%d events, %d content)" % (len(both) - len(bad), len(both), nev,
                                                             ncon)
    if bad:
        text += "; differ (events/content): " + ", ".join(bad[:4]) + (
            ", …" if len(bad) > 4 else "")
    rep.line(not bad, "stream events", text)

    # 6. errors by kind
    kr, kc = kinds(rx), kinds(cx)
    text = "replay %s, capture %s" % (fmt_kinds(kr), fmt_kinds(kc))
    ok = kr == kc
    if a.uvicorn_log:
        s_status = sum(1 for s in sby.values() if (s.get("status") or 0) >= 400)
        s_disc = sum(1 for s in sby.values() if s.get("disconnected"))
        text += ", server %d ≥ 400, %d client disconnects" % (s_status, s_disc)
        ok = ok and s_status == kr.get("http_status", 0)
    if llama:
        s_status = sum(1 for _, st in llama.posts if st >= 400)
        text += ", server log %d ≥ 400" % s_status
        ok = ok and s_status == kr.get("http_status", 0)
    rep.line(ok, "errors", text)

    # 7. re-sends: replay's attempts, the wire's repeated requests, capture's links
    problems = []
    for c in linked:
        tgt = by_cid.get(c.get("resent_as"))
        if tgt is None:
            problems.append("%s: resent_as %s names no exchange" % (c.get("id"),
                                                                    c.get("resent_as")))
        elif header(tgt, "x-request-id") != header(c, "x-request-id"):
            problems.append("%s: linked to a different request" % c.get("id"))
    for k, g in cgroups.items():
        if k is None:
            continue
        for early, late in zip(g, g[1:]):
            # RFC 9112 §9.3.1 / issue rule: only a request that died before any response byte
            # on a reused connection may be re-sent, once, on a new connection
            if (early.get("response") or {}).get("ttfb_us") is not None:
                problems.append("%s re-sent after a response byte" % k)
            if str(early.get("id", "")).endswith(".1"):
                problems.append("%s re-sent after failing on a new connection" % k)
            if not str(late.get("id", "")).endswith(".1"):
                problems.append("%s re-sent on a reused connection" % k)
        if len(g) > 2:
            problems.append("%s sent %d times" % (k, len(g)))
    for r in rx:
        for at in (r.get("replay") or {}).get("attempts") or []:
            if at.get("conn_new") is not False:
                problems.append("%s: replay re-sent after an attempt on a new connection" %
                                r.get("id"))
    ok = attempts == wire_resends == len(linked) and not problems and not sdup
    text = "replay %d (replay.attempts), on the wire %d, capture linked %d" % (
        attempts, wire_resends, len(linked))
    if a.uvicorn_log:
        text += ", server ran %d twice" % sdup
    if problems:
        text += "; " + "; ".join(problems[:4]) + ("; …" if len(problems) > 4 else "")
    rep.line(ok, "re-sends", text)

    # 8. expectations
    if a.expect_requests is not None or a.expect_errors is not None or a.expect_error:
        parts, ok = [], True
        if a.expect_requests is not None:
            parts.append("%d requests (replay %d)" % (a.expect_requests, n_r))
            ok = ok and n_r == a.expect_requests
        nerr = sum(kr.values())
        if a.expect_errors is not None:
            parts.append("%d errors (replay %d)" % (a.expect_errors, nerr))
            ok = ok and nerr == a.expect_errors
        for spec in a.expect_error or []:
            k, _, v = spec.partition("=")
            parts.append("%s %s (replay %d)" % (k, v, kr.get(k, 0)))
            ok = ok and kr.get(k, 0) == int(v)
        rep.line(ok, "expected", ", ".join(parts))

    print("%s: %s%s (%d checks, %d disagree)" % ("check", rep.label,
                                                  "PASS" if not rep.failed else "FAIL",
                                                  rep.n, rep.failed))
    return 1 if rep.failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--replay", required=True, help="llmtrace-replay's log")
    ap.add_argument("--capture", required=True, help="llmtrace-capture's log of the same run")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--uvicorn-log", help="tests/interop/server.py's request log")
    g.add_argument("--llama-log", help="llama-server's output during the run (only that run)")
    ap.add_argument("--llama-metrics", nargs=2, metavar=("BEFORE", "AFTER"),
                    help="llama-server /metrics scraped before and after the run")
    ap.add_argument("--label", default="", help="prefix of every line")
    ap.add_argument("--expect-requests", type=int)
    ap.add_argument("--expect-errors", type=int)
    ap.add_argument("--expect-error", action="append", metavar="KIND=N")
    a = ap.parse_args()
    try:
        return check(a)
    except Unusable as e:
        print("check.py: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
