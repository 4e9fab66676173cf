/* Character rules of the crate's BERT normalizer and pre-tokenizer (see
 * wordpiece_unicode.h for where each answer comes from). */
#include "text/wordpiece_unicode.h"

#include <utf8proc.h>

#include "text/wordpiece_tables.h"

#define NRANGES(t) (sizeof(t) / sizeof((t)[0]))

/* 1 if cp lies in one of the n sorted, disjoint ranges r. */
static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp) {
    if (n == 0 || cp < r[0][0] || cp > r[n - 1][1]) return 0;
    size_t lo = 0, hi = n; /* the range holding cp, if any, is in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid][0] <= cp) lo = mid;
        else hi = mid;
    }
    return cp <= r[lo][1];
}

int attend_wp_is_control(uint32_t cp) {
    if (cp == 0 || cp == 0xFFFD) return 1; /* the crate drops these two by name */
    return in_ranges(wp_control_ranges, NRANGES(wp_control_ranges), cp);
}

int attend_wp_is_whitespace(uint32_t cp) {
    if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
    if (cp < 0x85) return 0;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

int attend_wp_is_punct(uint32_t cp) {
    return in_ranges(wp_punct_ranges, NRANGES(wp_punct_ranges), cp);
}

int attend_wp_is_chinese(uint32_t cp) {
    /* The crate's list, which is not Unicode's CJK blocks: extension E
     * (U+2B820..U+2CEAF) starts at U+2B920 there, and extensions F, G and
     * later are missing. */
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

int attend_wp_is_nonspacing(uint32_t cp) {
    return in_ranges(wp_mn_ranges, NRANGES(wp_mn_ranges), cp);
}

int attend_wp_ccc(uint32_t cp) {
    /* utf8proc knows classes of marks added after Unicode 9.0, which the
     * crate's NFD treats as starters (class 0): ask the crate's set first.
     * A class never changes once assigned, so utf8proc's value is the
     * crate's for the code points in the set. */
    if (!in_ranges(wp_ccc_ranges, NRANGES(wp_ccc_ranges), cp)) return 0;
    return utf8proc_get_property((utf8proc_int32_t)cp)->combining_class;
}

size_t attend_wp_nfd(uint32_t cp, uint32_t out[ATTEND_WP_NFD_MAX]) {
    /* Canonical decompositions are fixed once assigned too, so utf8proc's
     * agree with the crate's Unicode 9.0 ones except for characters added
     * later: of those utf8proc 2.8 decomposes only U+11938 (Dives Akuru,
     * Unicode 13.0). A newer utf8proc may add more; the code point test
     * (tests/test_wordpiece.c) would name them. */
    if (cp < 0xC0 || cp == 0x11938) {
        out[0] = cp;
        return 1;
    }
    utf8proc_int32_t d[8];
    int last_boundclass = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)cp, d, 8, UTF8PROC_DECOMPOSE,
                                                 &last_boundclass);
    if (n < 1 || n > ATTEND_WP_NFD_MAX) { /* cannot happen for valid code points */
        out[0] = cp;
        return 1;
    }
    for (utf8proc_ssize_t i = 0; i < n; i++) out[i] = (uint32_t)d[i];
    return (size_t)n;
}

/* Case pairs of Unicode 16.0 and 17.0, which Rust's to_lowercase has and
 * utf8proc 2.8 (Unicode 15.0) lacks: {first, last, lowercase of first};
 * each range maps at a constant offset. */
static const uint32_t newer_lower[][3] = {
    {0x1C89, 0x1C89, 0x1C8A},   /* Cyrillic capital TJE */
    {0xA7CB, 0xA7CB, 0x0264},   /* Latin capital ram's horn */
    {0xA7CC, 0xA7CC, 0xA7CD},   /* Latin capital S with diagonal stroke */
    {0xA7CE, 0xA7CE, 0xA7CF},   /* Latin capital pharyngeal voiced fricative (17.0) */
    {0xA7D2, 0xA7D2, 0xA7D3},   /* Latin capital double thorn (17.0) */
    {0xA7D4, 0xA7D4, 0xA7D5},   /* Latin capital double wynn (17.0) */
    {0xA7DA, 0xA7DA, 0xA7DB},   /* Latin capital lambda */
    {0xA7DC, 0xA7DC, 0x019B},   /* Latin capital lambda with stroke */
    {0x10D50, 0x10D65, 0x10D70}, /* Garay */
    {0x16EA0, 0x16EB8, 0x16EBB}, /* Beria Erfe (17.0) */
};

size_t attend_wp_lower(uint32_t cp, uint32_t out[2]) {
    if (cp < 0x80) {
        out[0] = cp - 'A' < 26u ? cp + 32 : cp;
        return 1;
    }
    if (cp == 0x130) { /* 'İ': the one unconditional two-code-point lowercase */
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    if (cp >= 0x1C89 && cp <= 0x16EB8) {
        for (size_t i = 0; i < NRANGES(newer_lower); i++) {
            if (cp >= newer_lower[i][0] && cp <= newer_lower[i][1]) {
                out[0] = newer_lower[i][2] + (cp - newer_lower[i][0]);
                return 1;
            }
        }
    }
    /* Rust's to_lowercase has no context: final sigma is plain sigma, as
     * utf8proc's simple mapping gives. */
    out[0] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
    return 1;
}
