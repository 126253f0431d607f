# analyze/: llmtrace-analyze — metric engine and statistics (unit), the CLI on handcrafted
# logs and on simulator runs (e2e).
if(TARGET analyze_core)
  llmtrace_unit(analyze LIBS analyze_core)
  llmtrace_e2e(analyze_cli TIMEOUT 120)
  llmtrace_e2e(analyze_sim TIMEOUT 300)
endif()
