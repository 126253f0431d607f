/* front/main.c — the `llmtrace` front command: `llmtrace <tool> ARGS…` runs
 * `llmtrace-<tool> ARGS…`, looked up first next to this binary, then on PATH (as git does). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const tools[] = {"capture", "replay", "analyze", "sim", "convert"};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: llmtrace <tool> [ARGS...]\n"
            "       llmtrace --version | --help\n"
            "\n"
            "tools:\n"
            "  capture   record LLM traffic from the wire (libpcap) into a trace log\n"
            "  replay    replay a trace log against an endpoint, timing every token\n"
            "  analyze   TTFT/TPOT/ITL/throughput/goodput, A/B comparison, charts, HTML\n"
            "  sim       simulated OpenAI-compatible endpoint with continuous batching\n"
            "  convert   import public traces (Azure, BurstGPT, Mooncake, ShareGPT, HAR), export CSV\n"
            "\n"
            "example:\n"
            "  llmtrace replay trace.jsonl.gz --url http://127.0.0.1:8000 -c 8 -o run.jsonl.gz\n"
            "\n"
            "`llmtrace <tool> --help` describes each tool. Exit codes are the tool's; 2 = usage.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("llmtrace %s\n", LLMTRACE_VERSION);
        return 0;
    }
    const char *tool = argv[1];
    int known = 0;
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
        known |= !strcmp(tool, tools[i]);
    if (!known) {
        fprintf(stderr, "llmtrace: '%s' is not a tool; see llmtrace --help\n", tool);
        return 2;
    }
    char name[64];
    snprintf(name, sizeof name, "llmtrace-%s", tool);
    argv[1] = name;

    /* Prefer the sibling binary so a build tree works without installing. */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash && (size_t)(slash - self) + 1 + strlen(name) < sizeof self) {
            strcpy(slash + 1, name);
            execv(self, argv + 1);
        }
    }
    execvp(name, argv + 1);
    fprintf(stderr, "llmtrace: cannot run %s: %s\n", name, strerror(errno));
    return 1;
}
