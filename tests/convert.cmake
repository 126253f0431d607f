# llmtrace-convert: trace importers, prompt synthesis, exports, session inference (formats/traces/, convert/).
llmtrace_unit(import)
llmtrace_unit(synth)
llmtrace_unit(import_build)
llmtrace_unit(export)
llmtrace_unit(session)
# convert_azure converts both full samples (≈ 250 MB of synthesized Mooncake prompts) and
# exports 19,366 records four ways: ~1 min, ~2.5 min under ASan on a loaded machine.
if(EXISTS ${LLMTRACE_TEST_DIR}/e2e/convert_azure.sh)
  llmtrace_e2e(convert_azure TIMEOUT 480)
endif()
foreach(e convert_formats convert_calibrate convert_timeouts convert_sessions)
  if(EXISTS ${LLMTRACE_TEST_DIR}/e2e/${e}.sh)
    llmtrace_e2e(${e} TIMEOUT 120)
  endif()
endforeach()
llmtrace_fuzzer(import SOURCE ${LLMTRACE_TEST_DIR}/fuzz/fuzz_import.c)
llmtrace_fuzzer(session SOURCE ${LLMTRACE_TEST_DIR}/fuzz/fuzz_session.c)
