/* The character rules of the Rust tokenizers crate's BertNormalizer and
 * BertPreTokenizer, one code point at a time (private to src/text/).
 *
 * The crate takes its answers from sources of three Unicode versions, and
 * these functions follow each:
 *   - categories (control, punctuation, nonspacing mark) come from the
 *     unicode_categories crate 0.1.1, whose tables are Unicode 8.0's: marks,
 *     punctuation and format characters added in 9.0 or later are ordinary
 *     letters to the crate, and a few code points whose category changed
 *     since keep their old one (U+1734 is still a nonspacing mark, U+166D
 *     and U+111C9 punctuation). These sets are tables (wordpiece_tables.h)
 *     generated from the crate's behaviour, not utf8proc's categories
 *     (Unicode 15.0 in utf8proc 2.8), which differ on 586 code points;
 *   - NFD's decompositions and combining classes come from the
 *     unicode-normalization-alignments crate, whose data is Unicode 9.0's:
 *     they are utf8proc's, limited to what the crate knows (a table of the
 *     code points it reorders, and U+11938, which it does not decompose);
 *   - lowercase and whitespace come from Rust's standard library, whose
 *     Unicode is newer (17.0 in tokenizers 0.23.3) than utf8proc 2.8's: the
 *     case pairs added in 16.0 and 17.0 are listed in wordpiece_unicode.c,
 *     and U+0130 lowercases to two code points (utf8proc gives one).
 * tests/test_wordpiece.c compares every code point with the crate's
 * answers (tests/wordpiece/codepoints.txt). */
#ifndef ATTEND_TEXT_WORDPIECE_UNICODE_H
#define ATTEND_TEXT_WORDPIECE_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* Longest canonical decomposition of one code point. */
#define ATTEND_WP_NFD_MAX 4

/* clean_text drops it: U+0000, U+FFFD, or Cc/Cf/Co other than \t \n \r. */
int attend_wp_is_control(uint32_t cp);

/* Rust's char::is_whitespace (the White_Space property). */
int attend_wp_is_whitespace(uint32_t cp);

/* The pre-tokenizer isolates it: ASCII punctuation or P*. */
int attend_wp_is_punct(uint32_t cp);

/* handle_chinese_chars puts spaces around it (the crate's CJK ranges). */
int attend_wp_is_chinese(uint32_t cp);

/* strip_accents drops it after NFD (Mn). */
int attend_wp_is_nonspacing(uint32_t cp);

/* Canonical combining class as the crate's NFD orders by (0: a starter). */
int attend_wp_ccc(uint32_t cp);

/* The canonical decomposition (NFD of the code point alone, not
 * reordered) into out; returns its length (1 when cp stays). */
size_t attend_wp_nfd(uint32_t cp, uint32_t out[ATTEND_WP_NFD_MAX]);

/* Rust's char::to_lowercase into out; returns its length (1 or 2). */
size_t attend_wp_lower(uint32_t cp, uint32_t out[2]);

#endif
