# trace log (formats/tlog/): unit tests, the reader's fuzz harness, an optional benchmark
llmtrace_unit(tlog TIMEOUT 300)
llmtrace_fuzzer(tlog SOURCE ${LLMTRACE_TEST_DIR}/fuzz/fuzz_tlog.c)
# Throughput benchmark (not a test): cmake --build B --target bench_tlog && B/bin/bench_tlog
add_executable(bench_tlog EXCLUDE_FROM_ALL ${LLMTRACE_TEST_DIR}/bench_tlog.c)
target_link_libraries(bench_tlog PRIVATE formats)
