# README.md's typical session, run as written against two simulators (capture, convert, replay,
# compare, charts, HTML).
llmtrace_e2e(readme_session TIMEOUT 600)
set_tests_properties(e2e.readme_session PROPERTIES RESOURCE_LOCK cpu_heavy)
