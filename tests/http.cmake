# http module (formats/wire/http1): unit tests and the fuzz harness
llmtrace_unit(http1)
llmtrace_fuzzer(http1 SOURCE ${LLMTRACE_TEST_DIR}/fuzz/fuzz_http1.c)
