# tests/replay.cmake — llmtrace-replay: unit tests of its modules (linked against replay_core,
# the same code the tool runs) and end-to-end runs against the real llmtrace-sim on loopback.
if(TARGET replay_core)
  foreach(u schedule input client scrape search sessions)
    if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/unit/test_replay_${u}.c)
      llmtrace_unit(replay_${u} LIBS replay_core)
    endif()
  endforeach()
  foreach(t timing sweep rewrite usage progress select headers faults signals chain accuracy tls
          http2 policies search connect sessions)
    if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/e2e/replay_${t}.sh)
      llmtrace_e2e(replay_${t} TIMEOUT 180)
    endif()
  endforeach()
endif()
