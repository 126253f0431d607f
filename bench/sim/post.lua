-- post.lua — wrk script for llmtrace-sim's zero-profile benchmark: every request is a streamed
-- OpenAI chat completion of exactly 1000 tokens (ignore_eos), so token events/s =
-- requests/s × 1000. Usage: wrk -t1 -c100 -d10s -s bench/sim/post.lua http://127.0.0.1:PORT
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"m","stream":true,"max_tokens":1000,"ignore_eos":true,' ..
           '"messages":[{"role":"user","content":"Say something."}]}'
