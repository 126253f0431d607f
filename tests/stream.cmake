# stream module: SSE / NDJSON decoders, jscan, the LLM API dialects and llmstream
foreach(t jscan sse ndjson dialect llmstream)
  if(EXISTS ${LLMTRACE_TEST_DIR}/unit/test_${t}.c)
    llmtrace_unit(${t})
  endif()
endforeach()
foreach(f sse dialect)
  if(EXISTS ${LLMTRACE_TEST_DIR}/fuzz/fuzz_${f}.c)
    llmtrace_fuzzer(${f} SOURCE ${LLMTRACE_TEST_DIR}/fuzz/fuzz_${f}.c)
  endif()
endforeach()
# Throughput of llm_stream_feed vs a cJSON tree per event (bench/results/stream.md); ctest only
# runs it small, as a check that both paths record the same events.
add_executable(bench_llmstream ${LLMTRACE_TEST_DIR}/unit/test_llmstream_bench.c)
target_link_libraries(bench_llmstream PRIVATE formats PkgConfig::CJSON)
add_test(NAME unit.llmstream_bench COMMAND bench_llmstream 5000)
set_tests_properties(unit.llmstream_bench PROPERTIES TIMEOUT 60)
