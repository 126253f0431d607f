#!/usr/bin/env bash
# Installs the Debian packages llmtrace needs, when any is missing. As root it runs apt-get;
# otherwise it prints the exact command to run and fails.
#   deps.sh            build, test, demo and bench (what `make` uses)
#   deps.sh --build    only what compiling the tools needs (deploy/Containerfile's build stage)
#   deps.sh --runtime  only what running the built tools needs (its final stage)
set -eu
mode=${1:-all}
build="build-essential cmake pkg-config libpcap-dev zlib1g-dev libcjson-dev \
libcurl4-openssl-dev libssl-dev libnghttp2-dev"
runtime="libpcap0.8 zlib1g libcjson1 libcurl4 libssl3 libnghttp2-14 gnuplot-nox ca-certificates"
# python3-pandas: the pandas recipe of formats/SCHEMA.md is a test (e2e.analyze_readers), as is
# the DuckDB one, which npm installs under the build tree: node and npm come from Debian's
# nodejs and npm unless the machine already has them (e.g. a nodejs build that bundles npm).
# python3-yaml: e2e.deploy parses the Kubernetes manifests. chromium: e2e.analyze_browser opens
# the HTML report in it (driven by playwright-core from npm, under the build tree).
# python3-fastapi, -uvicorn, -httptools, -uvloop: e2e.interop_uvicorn's server, on vLLM's stack.
tests="clang libclang-rt-14-dev libcmocka-dev gnuplot-nox python3 python3-aiohttp chromium \
python3-pandas python3-yaml curl tcpdump iproute2 procps \
python3-fastapi python3-uvicorn python3-httptools python3-uvloop"
case "$mode" in
  all) pkgs="$build $tests" ;;
  --build) pkgs="$build" ;;
  --runtime) pkgs="$runtime" ;;
  *) echo "usage: deps.sh [--build|--runtime]" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ "$mode" = all ]; then
  command -v node >/dev/null 2>&1 || missing="$missing nodejs"
  command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "deps: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "deps: missing packages; run:" >&2
  echo "  sudo apt-get install -y$missing" >&2
  exit 1
fi
