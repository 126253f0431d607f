# capture: llmtrace-capture's packet path (unit), golden pcaps (unit + e2e), live loopback e2e,
# fuzz harness over the packet path. Each is registered once its file exists, so a partial
# checkout never breaks configure.
if(TARGET capture_net)
  llmtrace_unit(capture_net LIBS capture_net)
endif()
if(TARGET capture_core)
  if(EXISTS ${LLMTRACE_TEST_DIR}/unit/test_capture_golden.c)
    llmtrace_unit(capture_golden LIBS capture_core PkgConfig::PCAP)
  endif()
  if(EXISTS ${LLMTRACE_TEST_DIR}/fuzz/fuzz_capture.c)
    llmtrace_fuzzer(capture SOURCE ${LLMTRACE_TEST_DIR}/fuzz/fuzz_capture.c LIBS capture_core)
  endif()
  foreach(e capture_golden capture_live capture_cli)
    if(EXISTS ${LLMTRACE_TEST_DIR}/e2e/${e}.sh)
      llmtrace_e2e(${e} TIMEOUT 120)
    endif()
  endforeach()
endif()
