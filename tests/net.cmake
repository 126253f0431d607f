# net module (formats/net: the HTTP client engine): scripted HTTP/1.1, TLS and HTTP/2 servers
# in the test process drive every connection rule.
llmtrace_unit(hclient LIBS PkgConfig::OPENSSL PkgConfig::NGHTTP2 Threads::Threads)
llmtrace_fuzzer(hclient SOURCE ${LLMTRACE_TEST_DIR}/fuzz/fuzz_hclient.c
                LIBS PkgConfig::OPENSSL PkgConfig::NGHTTP2)
# Prometheus text format (formats/wire/prom.h), read by replay's --scrape
llmtrace_unit(prom)
llmtrace_fuzzer(prom SOURCE ${LLMTRACE_TEST_DIR}/fuzz/fuzz_prom.c)
