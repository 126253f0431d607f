# stream module: SSE / NDJSON decoders, jscan, the LLM API dialects and llmstream
llmtrace_unit(jscan)
llmtrace_unit(sse)
llmtrace_unit(ndjson)
llmtrace_unit(dialect)
# OpenAI chunk fast path vs the full path (formats/dialect/dialect.c), pull reader vs jscan_parse
llmtrace_unit(dialect_diff)
llmtrace_unit(llmstream)
llmtrace_fuzzer(sse SOURCE ${LLMTRACE_TEST_DIR}/fuzz/fuzz_sse.c)
llmtrace_fuzzer(dialect SOURCE ${LLMTRACE_TEST_DIR}/fuzz/fuzz_dialect.c)
llmtrace_fuzzer(dialect_diff SOURCE ${LLMTRACE_TEST_DIR}/fuzz/fuzz_dialect_diff.c)
# Throughput of llm_stream_feed vs a cJSON tree per event (bench/results/stream.md); ctest
# runs it small, as a check that both paths record the same events.
add_executable(bench_llmstream ${LLMTRACE_TEST_DIR}/unit/test_llmstream_bench.c)
target_link_libraries(bench_llmstream PRIVATE formats PkgConfig::CJSON)
add_test(NAME unit.llmstream_bench COMMAND bench_llmstream 5000)
set_tests_properties(unit.llmstream_bench PROPERTIES TIMEOUT 60)
