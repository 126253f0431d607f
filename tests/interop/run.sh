#!/usr/bin/env bash
# tests/interop/run.sh — `make interop`: the uvicorn check (uvicorn.sh) at INTEROP_REQUESTS
# requests (default 1,000), then the llama.cpp runs (llama.sh) against LLAMA_SERVER and
# LLAMA_MODEL. `run.sh --preflight` only checks what the runs need and says what is missing.
# Environment: LLMTRACE_BIN, SRC_DIR, LLAMA_SERVER, LLAMA_MODEL; argument: a scratch directory.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
preflight() {
  local how="make interop LLAMA_SERVER=/path/to/llama-server LLAMA_MODEL=/path/to/model.gguf"
  if [ -z "${LLAMA_SERVER:-}" ] || [ -z "${LLAMA_MODEL:-}" ]; then
    echo "interop: needs a llama.cpp server and a model: $how" >&2
    echo "interop: (verified with llama.cpp b4747; tests/interop/README.md)" >&2
    exit 2
  fi
  if [ ! -f "$LLAMA_SERVER" ] || [ ! -x "$LLAMA_SERVER" ]; then
    echo "interop: LLAMA_SERVER=$LLAMA_SERVER: not an executable file" >&2
    exit 2
  fi
  if [ ! -f "$LLAMA_MODEL" ] || [ "$(head -c 4 "$LLAMA_MODEL" 2>/dev/null)" != GGUF ]; then
    echo "interop: LLAMA_MODEL=$LLAMA_MODEL: not a GGUF model file" >&2
    exit 2
  fi
  if ! "$LLAMA_SERVER" --help 2>&1 | grep -q -- '--cont-batching'; then
    echo "interop: LLAMA_SERVER=$LLAMA_SERVER: does not look like llama.cpp's llama-server" >&2
    exit 2
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "interop: live capture on lo needs root (run make interop as root)" >&2
    exit 1
  fi
}
preflight
[ "${1:-}" = --preflight ] && exit 0
: "${LLMTRACE_BIN:?}" "${1:?scratch directory}"
OUT=$1
rc_uv=0 rc_ll=0
echo "=== uvicorn (FastAPI + uvicorn, ${INTEROP_REQUESTS:-1000} requests)"
TEST_TMP=$OUT/uvicorn INTEROP_REQUESTS=${INTEROP_REQUESTS:-1000} bash "$HERE/uvicorn.sh" || rc_uv=$?
echo "=== llama.cpp ($LLAMA_SERVER)"
TEST_TMP=$OUT/llama bash "$HERE/llama.sh" || rc_ll=$?
verdict() { [ "$1" = 0 ] && echo agree || echo "DISAGREE (exit $1)"; }
echo "interop: uvicorn $(verdict $rc_uv), llama.cpp $(verdict $rc_ll); logs in $OUT"
[ "$rc_uv" = 0 ] && [ "$rc_ll" = 0 ]
