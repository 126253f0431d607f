# Front door: `make demo` and `make test` from a fresh clone. The real build is CMake.
JOBS        ?= 2
BUILD       ?= build
ASAN_BUILD  ?= build-asan
FUZZ_SECONDS ?= 60

.PHONY: all deps build build-asan test test-plain test-asan fuzz demo bench interop clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# The sanitized build is also the fuzzing build: clang, ASan+UBSan, libFuzzer harnesses.
build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	  -DLLMTRACE_SANITIZE=ON -DLLMTRACE_FUZZ=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test: test-plain test-asan

test-plain: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

fuzz: build-asan
	@set -e; for f in $(ASAN_BUILD)/bin/fuzz_*; do \
	  n=$${f##*/fuzz_}; echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  bash tests/fuzz/run.sh $$f tests/fuzz/corpus/$$n $(ASAN_BUILD)/fuzz-corpus/$$n $(FUZZ_SECONDS); \
	done

demo: build
	@bash scripts/demo.sh $(BUILD)/bin

bench: build
	@bash bench/run.sh $(BUILD)/bin

# Real servers (tests/interop/README.md): uvicorn at INTEROP_REQUESTS requests, and a llama.cpp
# server and model of your own (nothing of llama.cpp is in this repository).
LLAMA_SERVER ?=
LLAMA_MODEL ?=
INTEROP_REQUESTS ?= 1000
INTEROP_ENV = LLAMA_SERVER="$(LLAMA_SERVER)" LLAMA_MODEL="$(LLAMA_MODEL)"
interop:
	@$(INTEROP_ENV) bash tests/interop/run.sh --preflight
	@$(MAKE) --no-print-directory build
	@$(INTEROP_ENV) INTEROP_REQUESTS="$(INTEROP_REQUESTS)" LLMTRACE_BIN="$(abspath $(BUILD))/bin" \
	  SRC_DIR="$(CURDIR)" bash tests/interop/run.sh "$(abspath $(BUILD))/interop-tmp"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) demo-out
