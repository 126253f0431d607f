# analyze/: llmtrace-analyze — metric engine and statistics (unit), the CLI on handcrafted
# logs and on simulator runs (e2e), and a libFuzzer harness over the engine and renderers.
if(TARGET analyze_core)
  llmtrace_unit(analyze LIBS analyze_core)
  llmtrace_e2e(analyze_cli TIMEOUT 120)
  llmtrace_e2e(analyze_sim TIMEOUT 300)
  if(LLMTRACE_FUZZ)
    # Like llmtrace_fuzzer(), with the handcrafted logs of tests/fixtures/analyze as seeds.
    add_executable(fuzz_analyze ${LLMTRACE_TEST_DIR}/unit/test_analyze_fuzz.c)
    target_link_libraries(fuzz_analyze PRIVATE analyze_core formats)
    target_compile_options(fuzz_analyze PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_analyze PRIVATE -fsanitize=fuzzer)
    add_test(NAME fuzz.analyze COMMAND bash ${LLMTRACE_TEST_DIR}/fuzz/run.sh
      $<TARGET_FILE:fuzz_analyze> ${LLMTRACE_TEST_DIR}/fixtures/analyze
      ${CMAKE_BINARY_DIR}/fuzz-corpus/analyze ${FUZZ_TEST_SECONDS})
    set_tests_properties(fuzz.analyze PROPERTIES TIMEOUT 300)
  endif()
endif()
