# capture: llmtrace-capture's packet path (unit), golden pcaps (unit + e2e), live loopback e2e,
# fuzz harness over the packet path.
if(TARGET capture_net)
  llmtrace_unit(capture_net LIBS capture_net)
endif()
if(TARGET capture_core)
  llmtrace_unit(capture_golden LIBS capture_core PkgConfig::PCAP)
  llmtrace_fuzzer(capture SOURCE ${LLMTRACE_TEST_DIR}/fuzz/fuzz_capture.c LIBS capture_core)
  llmtrace_e2e(capture_golden TIMEOUT 120)
  llmtrace_e2e(capture_live TIMEOUT 120)
endif()
