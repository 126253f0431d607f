# trace log (formats/tlog*.c): unit tests, the reader's fuzz harness, an optional benchmark
llmtrace_unit(tlog TIMEOUT 300)
llmtrace_fuzzer(tlog SOURCE ${LLMTRACE_TEST_DIR}/fuzz/fuzz_tlog.c)
