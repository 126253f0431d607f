# deploy/ (Containerfile, Kubernetes manifests): the manifests parsed and checked, and their
# exact commands run here — 4 replay shards merged by analyze, capture's ring and -Z.
llmtrace_e2e(deploy TIMEOUT 300)
