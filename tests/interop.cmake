# tests/interop.cmake — llmtrace against real HTTP stacks (tests/interop/README.md): the
# FastAPI + uvicorn server runs in every `make test`; llama.cpp only through `make interop`,
# since its server and model live outside the repository.
set(INTEROP_ENV "LLMTRACE_BIN=${CMAKE_BINARY_DIR}/bin;SRC_DIR=${PROJECT_SOURCE_DIR};LLMTRACE_SANITIZE=${LLMTRACE_SANITIZE}")
# check.py, the three-way comparison, on hand-made logs: every kind of disagreement is caught
add_test(NAME e2e.interop_check COMMAND /usr/bin/python3 ${LLMTRACE_TEST_DIR}/interop/check_selftest.py)
set_tests_properties(e2e.interop_check PROPERTIES TIMEOUT 120)
if(TARGET llmtrace-replay AND TARGET llmtrace-capture)
  add_test(NAME e2e.interop_uvicorn COMMAND bash ${LLMTRACE_TEST_DIR}/interop/uvicorn.sh)
  # exit 77 = skipped: live capture needs root (CI runs as root)
  set_tests_properties(e2e.interop_uvicorn PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77
    RESOURCE_LOCK cpu_heavy
    ENVIRONMENT "${INTEROP_ENV};TEST_TMP=${CMAKE_BINARY_DIR}/e2e-tmp/interop_uvicorn")
endif()
