# base module (buf, clock, units)
llmtrace_unit(buf)
llmtrace_unit(units)
llmtrace_unit(redact)
