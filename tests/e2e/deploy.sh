# deploy.sh — deploy/kubernetes/ checked as far as a machine without a cluster can: every
# manifest parses (YAML) and has what Kubernetes requires of its kind; then the exact commands
# in the manifests run
# here, with only the mount paths pointed at scratch directories and the ConfigMap values a test
# needs: the replay Job's command as 4 shards (JOB_COMPLETION_INDEX 0…3) started together with
# --start-at against one llmtrace-sim, and the merge Job's command over their logs. The merged
# run has every request of the trace exactly once, the shards' scheduled times are one
# process's schedule for the same trace and flags, and its numbers equal those of analyzing
# all the records as one file. The capture DaemonSet's command runs on lo with a small ring,
# with the manifest's capabilities only (setpriv): -C/-W keep at most KEEP_FILES files and -Z
# drops the process to an unprivileged user with no capability left.
source "$SRC_DIR/tests/e2e/lib.sh"
source "$SRC_DIR/tests/e2e/replay_lib.sh"
T=$TEST_TMP
K=$SRC_DIR/deploy/kubernetes
PY=/usr/bin/python3
export PATH="$BIN:$PATH" # the image has the tools on PATH; here they are in the build tree

# ---- 1. the manifests ----------------------------------------------------------------------
$PY - "$K" <<'PY'
import glob, os, sys, yaml
kdir = sys.argv[1]
need = {"Job": ["spec.template.spec.containers"], "DaemonSet": ["spec.selector.matchLabels",
        "spec.template.metadata.labels", "spec.template.spec.containers"],
        "ConfigMap": [], "Secret": [],
        "PersistentVolumeClaim": ["spec.accessModes", "spec.resources.requests.storage"]}
def get(d, path):
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d
docs = {}
for f in sorted(glob.glob(os.path.join(kdir, "*.yaml"))):
    for d in yaml.safe_load_all(open(f)):
        where = "%s: %s" % (os.path.basename(f), d.get("kind"))
        for k in ("apiVersion", "kind", "metadata"):
            assert k in d, "%s: missing %s" % (where, k)
        assert d["metadata"].get("name"), where + ": metadata.name"
        assert d["kind"] in need, where + ": unexpected kind"
        for p in need[d["kind"]]:
            assert get(d, p), "%s: missing %s" % (where, p)
        if d["kind"] in ("Job", "DaemonSet"):
            spec = d["spec"]["template"]["spec"]
            for c in spec["containers"]:
                assert c.get("name") and c.get("image"), where + ": container name/image"
            if d["kind"] == "Job":
                assert spec.get("restartPolicy") in ("Never", "OnFailure"), where + ": restartPolicy"
            else:
                sel, lab = d["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"]
                assert all(lab.get(k) == v for k, v in sel.items()), where + ": selector does not match labels"
        if d["kind"] == "ConfigMap":
            assert all(isinstance(v, str) for v in d.get("data", {}).values()), where + ": data values must be strings"
        docs[d["metadata"]["name"] + "/" + d["kind"]] = d
job = docs["llmtrace-replay/Job"]
pvc = docs["llmtrace-results/PersistentVolumeClaim"]
assert "ReadWriteMany" in pvc["spec"]["accessModes"], "results claim: N pods on any nodes write it at once"
for j in ("llmtrace-replay/Job", "llmtrace-merge/Job"):
    vols = docs[j]["spec"]["template"]["spec"].get("volumes", [])
    assert any((v.get("persistentVolumeClaim") or {}).get("claimName") == "llmtrace-results" for v in vols), j + ": the results claim"
cm = docs["llmtrace-replay/ConfigMap"]["data"]
assert job["spec"]["completionMode"] == "Indexed"
assert job["spec"]["completions"] == job["spec"]["parallelism"] == int(cm["SHARDS"]), "completions = parallelism = SHARDS"
env = job["spec"]["template"]["spec"]["containers"][0]["env"]
assert any(e["name"] == "API_KEY" and "secretKeyRef" in e["valueFrom"] for e in env), "API key from a Secret"
assert "API_KEY" not in " ".join(job["spec"]["template"]["spec"]["containers"][0]["args"]).replace("--api-key-env API_KEY", ""), "the key itself is never on the command line"
ds = docs["llmtrace-capture/DaemonSet"]["spec"]["template"]["spec"]
sc = ds["containers"][0]["securityContext"]
assert ds["hostNetwork"] is True and sc["privileged"] is False and sc["allowPrivilegeEscalation"] is False
assert {"NET_RAW", "NET_ADMIN"} <= set(sc["capabilities"]["add"]) and sc["capabilities"]["drop"] == ["ALL"]
print("manifests: %d objects ok" % len(docs))
PY
pass "manifests parse and have their kinds' required fields"
# (kubectl --dry-run=client is no help without a cluster: even client-side it asks the API
# server for its resource list first — kubectl 1.32: "couldn't get current server API group
# list" — so the kinds' required fields are checked above instead)

# cmd_of FILE KIND: the container's shell command (args[0]) with the mount paths pointed at
# scratch directories ($T/trace, $T/results, $T/data).
cmd_of() {
  $PY - "$1" "$2" "$T" <<'PY'
import sys, yaml
f, kind, t = sys.argv[1:]
d = next(x for x in yaml.safe_load_all(open(f)) if x["kind"] == kind)
c = d["spec"]["template"]["spec"]["containers"][0]
cmd = c["args"][0]
for m in c.get("volumeMounts", []):
    cmd = cmd.replace(m["mountPath"] + "/", "%s/%s/" % (t, m["mountPath"].strip("/")))
print(cmd)
PY
}

# ---- 2. the replay Job as 4 shards, and the merge Job ----------------------------------------
start_sim --profile zero --seed 7
mkdir -p "$T/trace" "$T/results"
mk_trace "$T/trace/trace.jsonl.gz" 48 5000
REPLAY_CMD=$(cmd_of "$K/replay-job.yaml" Job)
MERGE_CMD=$(cmd_of "$K/merge-job.yaml" Job)
export TARGET_URL=$SIM_URL SHARDS=4 RUN=run1 API_KEY=sk-test-not-logged
export REPLAY_FLAGS="--rate 400 --arrival constant --max-tokens 8 --ignore-eos"
START=$(( $(date +%s) + 2 ))
export START_AT=$START
pids=()
for i in 0 1 2 3; do
  JOB_COMPLETION_INDEX=$i /bin/sh -c "$REPLAY_CMD" &
  pids+=("$!")
done
for p in "${pids[@]}"; do wait "$p" || fail "a replay shard failed"; done
ls "$T/results/run1" >"$T/shards.txt"
assert_eq "one log per shard" "shard-1-of-4.jsonl.gz shard-2-of-4.jsonl.gz shard-3-of-4.jsonl.gz shard-4-of-4.jsonl.gz" "$(tr '\n' ' ' <"$T/shards.txt" | sed 's/ $//')"
# the same trace and flags from one process, for the schedule
SINGLE_AT=$(( $(date +%s) + 2 ))
"$BIN/llmtrace-replay" "$T/trace/trace.jsonl.gz" --url "$SIM_URL" --start-at "$SINGLE_AT" $REPLAY_FLAGS \
  -q -o "$T/single.jsonl.gz"
assert_eq "union of the shards = the trace, each request once; schedule = one process's" "48 True True" "$($PY - "$T/results/run1" "$T/single.jsonl.gz" "$START" "$SINGLE_AT" <<'PY'
import glob, gzip, json, sys
d, single, a, b = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def ex(p):
    return [r for r in map(json.loads, gzip.open(p, "rt")) if r.get("type") == "exchange"]
sh = [x for f in sorted(glob.glob(d + "/*.jsonl.gz")) for x in ex(f)]
one = ex(single)
ofs = sorted(x["replay"]["sched_us"] - a * 1000000 for x in sh)
ofs1 = sorted(x["replay"]["sched_us"] - b * 1000000 for x in one)
print(len(set(x["replay"]["of"] for x in sh)), len(sh) == 48, ofs == ofs1)
PY
)"
/bin/sh -c "$MERGE_CMD" || fail "the merge Job's command failed"
[ -s "$T/results/run1/merged.json" ] && [ -s "$T/results/run1/report.html" ] || fail "merge wrote no JSON/HTML"
# all the records as one file, analyzed the same way
$PY - "$T/results/run1" "$T/all.jsonl" <<'PY'
import glob, gzip, sys
d, out = sys.argv[1], sys.argv[2]
files = sorted(glob.glob(d + "/*.jsonl.gz"))
with open(out, "w") as o:
    import json
    h = json.loads(gzip.open(files[0], "rt").readline())
    h["options"].pop("shard", None)   # one file of everything: no shard of anything
    o.write(json.dumps(h) + "\n")
    for f in files:
        for l in gzip.open(f, "rt"):
            if '"type":"exchange"' in l:
                o.write(l)
PY
"$BIN/llmtrace-analyze" "run1=$T/all.jsonl" --json -o "$T/all.json" 2>/dev/null
assert_eq "merged numbers = one file's (requests, throughput, TTFT and E2E percentiles)" True "$($PY - "$T/results/run1/merged.json" "$T/all.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
ga, gb = a["groups"][0], b["groups"][0]
keys = ["requests", "output_tok_s", "req_s"]
same = all(ga[k] == gb[k] for k in keys) and ga["ttft_ms"] == gb["ttft_ms"] and ga["e2e_ms"] == gb["e2e_ms"]
print(same and ga["requests"] == 48)
PY
)"
# a missing shard, a shard given twice: said, not merged silently
mkdir -p "$T/partial"
cp "$T/results/run1/shard-1-of-4.jsonl.gz" "$T/results/run1/shard-2-of-4.jsonl.gz" \
   "$T/results/run1/shard-4-of-4.jsonl.gz" "$T/partial/"
"$BIN/llmtrace-analyze" "run1=$T/partial/" "run1=$T/results/run1/shard-2-of-4.jsonl.gz" \
  --json -o "$T/partial.json" 2>"$T/partial.err" || fail "analyze of a partial set: not a failure without --whole-run"
rc=0
"$BIN/llmtrace-analyze" "run1=$T/partial/" "run1=$T/results/run1/shard-2-of-4.jsonl.gz" \
  --whole-run --json -o "$T/partial_w.json" 2>"$T/partial_w.err" || rc=$?
assert_eq "analyze --whole-run (the merge Job's): a partial set fails, saying why" "1 1" \
  "$rc $(grep -c '^llmtrace-analyze: --whole-run: 2 problems with shards or rotated files: not one whole run$' "$T/partial_w.err")"
[ -s "$T/partial_w.json" ] || fail "--whole-run: the numbers are still written"
assert_eq "the merge Job passes --whole-run" 1 "$(grep -c -- 'llmtrace-analyze .* --whole-run' "$K/merge-job.yaml")"
assert_eq "analyze: the missing shard named" 1 "$(grep -c 'shard 3/4 missing' "$T/partial.err")"
assert_eq "analyze: the duplicate shard named" 1 "$(grep -c 'shard 2/4 given twice' "$T/partial.err")"
"$BIN/llmtrace-analyze" "run1=$T/results/run1/" -o /dev/null 2>"$T/skew.err" || fail "analyze of the shards"
assert_eq "analyze: each shard's start against --start-at and against when it was due, with its clock" 4 \
  "$(grep -c '^llmtrace-analyze: run1: shard [1-4]/4: first request due +[0-9.]* ms after --start-at, sent [-+][0-9.]* ms late, by its clock (clock ' "$T/skew.err")"
assert_eq "merged JSON: each shard's first request due at its offset in the schedule, sent soon after" ok \
  "$($PY - "$T/results/run1/merged.json" "$T/results/run1" "$START" <<'PY'
import glob, gzip, json, sys
j, d, at = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
bad = []
for i in j["inputs"]:
    recs = [r for r in map(json.loads, gzip.open(i["path"], "rt")) if r.get("type") == "exchange"]
    due = (min(r["replay"]["sched_us"] for r in recs) - at * 1000000) / 1e3
    lag = i["first_start_after_start_at_ms"] - i["first_sched_after_start_at_ms"]
    if abs(i["first_sched_after_start_at_ms"] - due) > 1e-6 or not -1 <= lag <= 500:
        bad.append("%s: due %s (records: %s), lag %s ms" % (i["shard"], i["first_sched_after_start_at_ms"], due, lag))
print("; ".join(bad) or "ok")
PY
)"
assert_eq "replay's header records the trace's size" "$(stat -c %s "$T/trace/trace.jsonl.gz" 2>/dev/null || echo none)" \
  "$(zjq "$T/results/run1/shard-1-of-4.jsonl.gz" 'hdr["source"].get("input_bytes")')"
# a shard of another run in the set: a different N, --start-at, or trace of the same path (its
# size differs) — each named; the shard's header is rewritten, its records kept
mismatch() { # mismatch NAME PYSTMT: shard 3's log with its header changed by PYSTMT (on h)
  mkdir -p "$T/mm_$1"
  cp "$T/results/run1/shard-1-of-4.jsonl.gz" "$T/results/run1/shard-2-of-4.jsonl.gz" \
     "$T/results/run1/shard-4-of-4.jsonl.gz" "$T/mm_$1/"
  $PY - "$T/results/run1/shard-3-of-4.jsonl.gz" "$T/mm_$1/shard-3-of-4.jsonl.gz" "$2" <<'PY'
import gzip, json, sys
out = []
for l in gzip.open(sys.argv[1], "rt"):
    h = json.loads(l)
    if h.get("type") == "header":
        exec(sys.argv[3])
        l = json.dumps(h) + "\n"
    out.append(l)
with gzip.open(sys.argv[2], "wt") as f:
    f.writelines(out)
PY
  local rc=0
  "$BIN/llmtrace-analyze" "run1=$T/mm_$1/" --whole-run -o /dev/null 2>"$T/mm_$1.err" || rc=$?
  assert_eq "analyze --whole-run: shard 3 of another run ($1) fails" 1 "$rc"
}
mismatch n 'h["options"]["shard"] = "3/5"'
assert_eq "analyze: a shard of another N named" 1 "$(grep -c 'is shard 3/5, .* is of 4 shards: not one run' "$T/mm_n.err")"
mismatch at 'h["options"]["start_at"] += 60'
assert_eq "analyze: another --start-at named" 1 "$(grep -c '(--start-at): not one schedule' "$T/mm_at.err")"
mismatch trace 'h["source"]["input_bytes"] += 1'
assert_eq "analyze: another trace at the same path named" 1 "$(grep -c -- '-byte .*: not one trace' "$T/mm_trace.err")"
stop_pid "$SIM_PID"

# ---- 3. the capture DaemonSet's command ------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
  echo "skip: capture needs root"
  exit 0
fi
start_sim --profile zero --seed 9
# the node's /var/lib/llmtrace: a directory the -Z user can reach (the scratch tree may sit
# under a 0700 mktemp directory, which nobody cannot traverse)
NODE=$(mktemp -d /tmp/llmtrace-deploy.XXXXXX)
chmod 755 "$NODE"
mkdir -p "$T/data"
CAP_CMD=$(cmd_of "$K/capture-daemonset.yaml" DaemonSet)
CAP_CMD=${CAP_CMD//$T\/data\//$NODE\/}
export INTERFACE=lo FILTER="tcp port $SIM_PORT" ROTATE_SIZE=16k KEEP_FILES=2 CAPTURE_USER=nobody
export NODE_NAME=node-a
# with the manifest's securityContext, not full root: uid 0 with only the capabilities it adds
# (a bounding set of NET_RAW, NET_ADMIN, SETUID, SETGID, CHOWN) and no privilege escalation
caps=$($PY - "$K/capture-daemonset.yaml" <<'PY'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "DaemonSet":
        sc = d["spec"]["template"]["spec"]["containers"][0]["securityContext"]
        assert sc["capabilities"]["drop"] == ["ALL"] and sc["allowPrivilegeEscalation"] is False
        print(",".join("+" + c.lower() for c in sc["capabilities"]["add"]))
PY
)
[ -n "$caps" ] || fail "the DaemonSet's capabilities"
setpriv --no-new-privs --bounding-set "-all,$caps" --inh-caps -all \
  /bin/sh -c "$CAP_CMD" 2>"$T/capture.stderr" &
CAP_PID=$!
_pids+=("$CAP_PID")
sleep 1
kill -0 "$CAP_PID" 2>/dev/null || fail "capture under the DaemonSet's capabilities ($caps) exited: $(cat "$T/capture.stderr")"
assert_eq "capture dropped root for CAPTURE_USER" "$(id -u nobody)" "$(ps -o uid= -p "$CAP_PID" | tr -d ' ')"
assert_eq "capture kept no capability after opening the device" "0000000000000000 0000000000000000" \
  "$(awk '/^CapPrm:|^CapEff:/ {printf "%s ", $2}' "/proc/$CAP_PID/status" | sed 's/ $//')"
mk_trace "$T/cap_trace.jsonl.gz" 600 1000
# --no-include-usage: the traffic (and so the ring's file count) the ring check below was sized on
"$BIN/llmtrace-replay" "$T/cap_trace.jsonl.gz" --url "$SIM_URL" -c 8 --max-tokens 80 --ignore-eos \
  --no-include-usage -q -o "$T/cap_replay.jsonl.gz"
sleep 1.5
stop_pid "$CAP_PID" INT
n=$(ls "$NODE/node-a" | wc -l)
assert_eq "ring: KEEP_FILES files" 2 "$n"
assert_eq "ring: it wrapped (a file numbered past KEEP_FILES) and nothing failed" "ok" "$($PY - "$NODE/node-a" "$T/capture.stderr" <<'PY'
import glob, gzip, json, sys
nums = [json.loads(gzip.open(f, "rt").readline())["options"]["file_number"] for f in glob.glob(sys.argv[1] + "/*.jsonl.gz")]
err = open(sys.argv[2]).read()
print("ok" if max(nums) > 2 and not err else "file numbers %s, stderr %r" % (nums, err))
PY
)"
assert_eq "files owned by CAPTURE_USER, the first one too" "nobody" "$(stat -c %U "$NODE/node-a/"* | sort -u)"
rm -rf "$NODE"
stop_pid "$SIM_PID"
