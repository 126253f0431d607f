/* synth.c — deterministic prompt synthesis and the tokens-per-word estimate (see synth.h). */
#include "synth.h"

#include <math.h>
#include <string.h>

/* 256 common lower-case English words: each is a single token in GPT-2/cl100k/Llama vocabularies
 * when preceded by a space, which keeps F near 1 token per word plus tokenizer overheads. */
static const char *const synth_vocab[256] = {
    "the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are",
    "as", "with", "his", "they", "at", "be", "this", "have", "from", "or", "one", "had", "by",
    "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said", "there",
    "use", "an", "each", "which", "she", "do", "how", "their", "if", "will", "up", "other",
    "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make",
    "like", "him", "into", "time", "has", "look", "two", "more", "write", "go", "see", "number",
    "no", "way", "could", "people", "my", "than", "first", "water", "been", "call", "who", "oil",
    "its", "now", "find", "long", "down", "day", "did", "get", "come", "made", "may", "part",
    "over", "new", "sound", "take", "only", "little", "work", "know", "place", "year", "live",
    "me", "back", "give", "most", "very", "after", "thing", "our", "just", "name", "good",
    "sentence", "man", "think", "say", "great", "where", "help", "through", "much", "before",
    "line", "right", "too", "mean", "old", "any", "same", "tell", "boy", "follow", "came",
    "want", "show", "also", "around", "form", "three", "small", "set", "put", "end", "does",
    "another", "well", "large", "must", "big", "even", "such", "because", "turn", "here", "why",
    "ask", "went", "men", "read", "need", "land", "different", "home", "us", "move", "try",
    "kind", "hand", "picture", "again", "change", "off", "play", "spell", "air", "away",
    "animal", "house", "point", "page", "letter", "mother", "answer", "found", "study", "still",
    "learn", "should", "world", "high", "every", "near", "add", "food", "between", "own",
    "below", "country", "plant", "last", "school", "father", "keep", "tree", "never", "start",
    "city", "earth", "eye", "light", "thought", "head", "under", "story", "saw", "left",
    "few", "while", "along", "might", "close", "something", "seem", "next", "hard", "open",
    "example", "begin", "life", "always", "those", "both", "paper", "together", "got", "group",
    "often", "run", "important", "until", "children", "side", "feet", "car", "mile", "night",
    "walk", "white",
};

static uint64_t synth_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t synth_rand_next(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ULL;
    return synth_mix(*state);
}

double synth_rand_unit(uint64_t *state)
{
    return (double)(synth_rand_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

static double synth_tpw(double tpw)
{
    return (tpw > 0 && isfinite(tpw)) ? tpw : SYNTH_DEFAULT_TOKENS_PER_WORD;
}

int64_t synth_words_for_tokens(int64_t tokens, double tpw)
{
    if (tokens <= 0)
        return 0;
    double w = llround((double)tokens / synth_tpw(tpw));
    return w < 1 ? 1 : (int64_t)w;
}

size_t synth_count_words(const char *text, size_t len)
{
    size_t n = 0;
    int in = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        int ws = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
        if (!ws && !in)
            n++;
        in = !ws;
    }
    return n;
}

int64_t synth_estimate_tokens(const char *text, size_t len, double tpw)
{
    return (int64_t)llround((double)synth_count_words(text, len) * synth_tpw(tpw));
}

/* Word j of a sequence is a pure function of (domain, seed, j): that is what makes a prefix of a
 * sequence independent of its length. */
int synth_append_words(struct buf *out, uint32_t domain, uint64_t seed, int64_t words)
{
    uint64_t key = synth_mix(seed ^ ((uint64_t)domain << 56) ^ 0x6c6c6d7472616365ULL);
    for (int64_t j = 0; j < words; j++) {
        const char *w = synth_vocab[synth_mix(key + (uint64_t)j * 0x9e3779b97f4a7c15ULL) & 255];
        int rc = j ? buf_append_char(out, ' ') : 0;
        if (!rc)
            rc = buf_append_str(out, w);
        if (rc)
            return rc;
    }
    return 0;
}

/* Word boundary of token offset t: the cumulative rounding keeps the total exact. */
static int64_t synth_boundary(int64_t t, double tpw)
{
    return synth_words_for_tokens(t, tpw);
}

int synth_append_blocks(struct buf *out, const uint64_t *hash_ids, size_t n_hash,
                        int64_t input_tokens, uint64_t req_seed, double tpw)
{
    if (input_tokens <= 0)
        return 0;
    int first = 1;
    int64_t done = 0; /* tokens covered so far */
    for (size_t k = 0; k < n_hash && done < input_tokens; k++) {
        int64_t next = done + SYNTH_BLOCK_TOKENS;
        if (next > input_tokens)
            next = input_tokens;
        int64_t words = synth_boundary(next, tpw) - synth_boundary(done, tpw);
        if (words > 0) {
            int rc = first ? 0 : buf_append_char(out, ' ');
            if (!rc)
                rc = synth_append_words(out, SYNTH_DOMAIN_BLOCK, hash_ids[k], words);
            if (rc)
                return rc;
            first = 0;
        }
        done = next;
    }
    if (done < input_tokens) {
        int64_t words = synth_boundary(input_tokens, tpw) - synth_boundary(done, tpw);
        if (words > 0) {
            int rc = first ? 0 : buf_append_char(out, ' ');
            if (!rc)
                rc = synth_append_words(out, SYNTH_DOMAIN_REQUEST, req_seed, words);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int synth_fit(const double *words, const double *tokens, size_t n, double *f, double *a)
{
    if (n == 0)
        return -1;
    double sw = 0, st = 0, sww = 0, swt = 0;
    for (size_t i = 0; i < n; i++) {
        sw += words[i];
        st += tokens[i];
        sww += words[i] * words[i];
        swt += words[i] * tokens[i];
    }
    double den = (double)n * sww - sw * sw;
    double slope, icpt;
    if (n >= 2 && den > 1e-9 * sww * (double)n) {
        slope = ((double)n * swt - sw * st) / den;
        icpt = (st - slope * sw) / (double)n;
    } else {
        if (sww <= 0)
            return -1;
        slope = swt / sww;
        icpt = 0;
    }
    if (!(slope > 0) || !isfinite(slope) || !isfinite(icpt))
        return -1;
    *f = slope;
    *a = icpt;
    return 0;
}
