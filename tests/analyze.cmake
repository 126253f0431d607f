# analyze/: llmtrace-analyze — metric engine and statistics (unit), the CLI on handcrafted
# logs and on simulator runs (e2e), and a libFuzzer harness over the engine and renderers.
if(TARGET analyze_core)
  llmtrace_unit(analyze LIBS analyze_core)
  llmtrace_e2e(analyze_cli TIMEOUT 120)
  llmtrace_e2e(analyze_sim TIMEOUT 300)
  llmtrace_e2e(analyze_exact TIMEOUT 120)
  llmtrace_e2e(analyze_torn TIMEOUT 300)
  llmtrace_e2e(analyze_readers TIMEOUT 600)
  llmtrace_e2e(analyze_progress TIMEOUT 300)
  llmtrace_e2e(analyze_sessions TIMEOUT 120)
  llmtrace_e2e(analyze_capacity TIMEOUT 300)
  llmtrace_fuzzer(analyze SOURCE ${LLMTRACE_TEST_DIR}/fuzz/fuzz_analyze.c LIBS analyze_core)
endif()
