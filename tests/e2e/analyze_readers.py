# analyze_readers.py LOG ANALYZE.json — the pandas recipe of formats/SCHEMA.md ("Reading it
# elsewhere") on LOG, with the system /usr/bin/python3 and Debian's python3-pandas: the number
# of exchanges, the median TTFT of the successful ones and the median tokens_out must equal
# llmtrace-analyze's (1e-12 relative). Prints one line; exit 1 on a disagreement.
import gzip, io, json, sys
import pandas as pd

path, js = sys.argv[1:3]


# --- the recipe, as SCHEMA.md gives it -------------------------------------------------------
def tlog_lines(path):
    """Every complete line of a trace log, also when its tail is torn (not closed cleanly)."""
    out = io.StringIO()
    with gzip.open(path, "rt") as f:
        try:
            for line in f:
                if line.endswith("\n"):
                    out.write(line)
        except EOFError:  # the file ends inside a gzip member: the torn last line is dropped
            pass
    out.seek(0)
    return out


try:
    df = pd.read_json(path, lines=True, compression="gzip")  # a log closed cleanly
    torn = False
except EOFError:
    df = pd.read_json(tlog_lines(path), lines=True)
    torn = True
ex = df[df.type == "exchange"]
ok = ex[ex.error.isna() & ex.response.map(lambda r: (r.get("status") or 0) < 400)]
ttft_ms = pd.to_numeric(ok.response.map(
    lambda r: next((e[0] for e in r["events"] if e[2] == 1), None))) / 1e3
# ------------------------------------------------------------------------------------------------

got = json.load(open(js))
g = got["groups"][0]
bad = []
if len(ex) != g["requests"]:
    bad.append("exchanges: pandas %d, analyze %d" % (len(ex), g["requests"]))
want = g["ttft_ms"]["p50"]
med = ttft_ms.dropna().median() if ttft_ms.notna().any() else None
if (want is None) != (med is None) or (med is not None and abs(med - want) > 1e-12 * abs(want)):
    bad.append("median TTFT: pandas %r, analyze %r" % (med, want))
tout = ex.tokens_out.dropna()
mt = float(tout.median()) if len(tout) else None
if mt != g["tokens_out"]["p50"]:
    bad.append("median tokens_out: pandas %r, analyze %r" % (mt, g["tokens_out"]["p50"]))
if bad:
    print("%s: %s" % (path, "; ".join(bad)))
    sys.exit(1)
print("%s: pandas (%s) agrees: %d exchanges, median TTFT %r ms" %
      (path, "torn, complete lines" if torn else "read_json as is", len(ex), med))
