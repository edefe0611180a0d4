/* tinmoi — the length of a run of "plain" UTF-8 text, sixteen bytes at a time.
 *
 * The decoder (decode.c), the HTML sanitiser's text writer (sanitize.c) and
 * the plain-text writer (text.c) all spend most of their time walking text that needs nothing done
 * to it: ASCII other than a few markup bytes, and the two- and three-byte characters of Latin and
 * Vietnamese. Vietnamese mixes one-, two- and three-byte characters in no pattern a branch
 * predictor learns, so a loop that decides per character mispredicts on most of them. This header
 * holds one loop that takes whole 16-byte blocks with SSE2 (every x86-64 has it), branching per
 * block instead of per character, and the simple per-byte loop it must agree with exactly
 * (tests/test_utf8_scan.c compares them), which is also what runs on other machines and on the last
 * bytes of an input. Runs longer than a few blocks go on 32 bytes at a time with AVX2 (utf8_scan.c)
 * where the processor has it. Internal to the library; the callers keep their own per-character
 * code for whatever stops a run. */
#ifndef TINMOI_UTF8_SCAN_INT_H
#define TINMOI_UTF8_SCAN_INT_H

#include <stdbool.h>
#include <stddef.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* What counts as plain: an ASCII byte that is neither a C0 control other
 * than tab, LF and CR nor one of `stop` (repeat a byte to use fewer than
 * four); a lead byte in [lead2_lo, lead2_hi] followed by a continuation
 * byte; or a lead byte in [lead3_lo, lead3_hi] or equal to lead3_extra,
 * followed by a byte in [second_lo, second_hi] (a subrange of 0x80..0xBF)
 * and a continuation byte. Every such sequence must be valid UTF-8 of an XML
 * character: lead2_lo >= 0xC2, and the lead3 set must avoid E0, ED and EF
 * (overlongs, surrogates, U+FFFE/U+FFFF) unless second_lo/hi exclude them. */
struct tm_utf8_plain {
    char stop[4];
    unsigned char lead2_lo, lead2_hi;
    unsigned char lead3_lo, lead3_hi, lead3_extra;
    unsigned char second_lo, second_hi;
};

/* The two families of sets the library uses, one definition each:
 *   - XML text with no range exceptions (the decoder: Latin, Vietnamese,
 *     punctuation; leads C2-DF, E1-EC, EE), stopping at a, b, c, d;
 *   - Latin and Vietnamese only, from the lead byte lead2_lo to U+02FF and
 *     U+1E00-U+1EFF (the sanitiser from C2, the text writer from C3, where
 *     NFC and white space leave nothing to do), stopping at a, b, c, d. */
#define TM_UTF8_PLAIN_XML(a, b, c, d)                                                              \
    {                                                                                              \
        .stop = {a, b, c, d}, .lead2_lo = 0xC2, .lead2_hi = 0xDF, .lead3_lo = 0xE1,                \
        .lead3_hi = 0xEC, .lead3_extra = 0xEE, .second_lo = 0x80, .second_hi = 0xBF                \
    }
#define TM_UTF8_PLAIN_VI(lead2_lo_, a, b, c, d)                                                    \
    {                                                                                              \
        .stop = {a, b, c, d}, .lead2_lo = lead2_lo_, .lead2_hi = 0xCB, .lead3_lo = 0xE1,           \
        .lead3_hi = 0xE1, .lead3_extra = 0xE1, .second_lo = 0xB8, .second_hi = 0xBB                \
    }

/* The simple form: one character at a time. */
static inline size_t tm_utf8_plain_run_simple(const struct tm_utf8_plain *k, const unsigned char *p,
                                              size_t j, size_t n, bool *multi)
{
    while (j < n) {
        unsigned char c = p[j];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
                c == (unsigned char)k->stop[0] || c == (unsigned char)k->stop[1] ||
                c == (unsigned char)k->stop[2] || c == (unsigned char)k->stop[3])
                return j;
            j++;
        } else if (c >= k->lead2_lo && c <= k->lead2_hi) {
            if (j + 1 >= n || (p[j + 1] & 0xC0) != 0x80)
                return j;
            *multi = true;
            j += 2;
        } else if ((c >= k->lead3_lo && c <= k->lead3_hi) || c == k->lead3_extra) {
            if (j + 2 >= n || p[j + 1] < k->second_lo || p[j + 1] > k->second_hi ||
                (p[j + 2] & 0xC0) != 0x80)
                return j;
            *multi = true;
            j += 3;
        } else {
            return j;
        }
    }
    return j;
}

/* The wide form (utf8_scan.c): AVX2, 32 bytes at a time, where the compiler
 * can build it and the processor has it. */
#if defined(__SSE2__) && defined(__x86_64__) && defined(__GNUC__)
#define TM_UTF8_WIDE 1
/* Runs left at least this long go to the wide form (a call and its set-up
 * are paid back only over a few of its blocks). */
#define TM_UTF8_WIDE_MIN_BYTES 64
/* As tm_utf8_plain_run from p[j], 32 bytes at a time: returns the end of
 * the run, or an index less than 32 bytes before n where the caller goes
 * on. Only where tm_utf8_wide_supported(). */
size_t tm_utf8_plain_run_wide(const struct tm_utf8_plain *k, const unsigned char *p, size_t j,
                              size_t n, bool *multi);
/* True when the processor runs the wide form (a load of what libgcc found
 * at start-up). */
static inline bool tm_utf8_wide_supported(void)
{
    return __builtin_cpu_supports("avx2");
}
#else
#define TM_UTF8_WIDE 0
#endif

#if defined(__SSE2__)
/* Bytes in [lo, hi], both bounds high bytes (0x80 <= lo <= hi < 0xFF): as
 * signed bytes they are negative, and ASCII bytes are never in range. */
static inline __m128i tm_utf8_in_range(__m128i v, unsigned char lo, unsigned char hi)
{
    return _mm_andnot_si128(_mm_cmplt_epi8(v, _mm_set1_epi8((char)lo)),
                            _mm_cmplt_epi8(v, _mm_set1_epi8((char)(hi + 1))));
}
#endif

/* Where a block's plain run ends, from its masks (bit i: byte i): the
 * first bad byte, moved back to the start of the character it cuts short
 * (a lead byte one or two before it). *multi is set when a lead byte was
 * passed before it. For the 16- and the 32-byte blocks alike. */
static inline unsigned tm_utf8_block_stop(unsigned bad_mask, unsigned lead_mask,
                                          unsigned lead3_mask, bool *multi)
{
    unsigned b = (unsigned)__builtin_ctz(bad_mask);
    if (b >= 1 && (lead_mask >> (b - 1) & 1u))
        b -= 1;
    else if (b >= 2 && (lead3_mask >> (b - 2) & 1u))
        b -= 2;
    *multi |= (lead_mask & ((1u << b) - 1u)) != 0;
    return b;
}

/* The index of the first byte from p[j] (a character boundary) that does
 * not begin a plain character whole within p[0..n), or n. *multi is set
 * when a multi-byte character was passed. The same result as
 * tm_utf8_plain_run_simple, found a block at a time. Always inlined: with a
 * constant `k` the compiler makes its vectors constants. */
__attribute__((always_inline)) static inline size_t tm_utf8_plain_run(const struct tm_utf8_plain *k,
                                                                      const unsigned char *p,
                                                                      size_t j, size_t n,
                                                                      bool *multi)
{
#if defined(__SSE2__)
    const __m128i s0 = _mm_set1_epi8(k->stop[0]), s1 = _mm_set1_epi8(k->stop[1]);
    const __m128i s2 = _mm_set1_epi8(k->stop[2]), s3 = _mm_set1_epi8(k->stop[3]);
    const __m128i space = _mm_set1_epi8(0x20);
    const __m128i tab = _mm_set1_epi8('\t'), lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    const __m128i c0 = _mm_set1_epi8((char)0xC0), x3 = _mm_set1_epi8((char)k->lead3_extra);
#if TM_UTF8_WIDE
    const bool wide = n - j >= TM_UTF8_WIDE_MIN_BYTES && tm_utf8_wide_supported();
#endif
    while (j + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + j));
        __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, s0), _mm_cmpeq_epi8(v, s1)),
                                    _mm_or_si128(_mm_cmpeq_epi8(v, s2), _mm_cmpeq_epi8(v, s3)));
        /* Below 0x20 as signed bytes: the C0 controls, and every high byte
         * (masked off below). Tab, LF and CR are plain. */
        __m128i low = _mm_andnot_si128(
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, lf)),
                         _mm_cmpeq_epi8(v, cr)),
            _mm_cmplt_epi8(v, space));
        unsigned high_mask = (unsigned)_mm_movemask_epi8(v);
        unsigned stop_mask = (unsigned)_mm_movemask_epi8(_mm_or_si128(stop, low)) & ~high_mask;
        /* No high byte before the first stop (tags, ASCII text): done. */
        if ((high_mask & ((stop_mask & -stop_mask) - 1u)) == 0) {
            if (stop_mask != 0)
                return j + (unsigned)__builtin_ctz(stop_mask);
            j += 16;
            continue;
        }
        __m128i cont = _mm_cmplt_epi8(v, c0); /* 0x80..0xBF */
        __m128i lead2 = tm_utf8_in_range(v, k->lead2_lo, k->lead2_hi);
        __m128i lead3 =
            _mm_or_si128(tm_utf8_in_range(v, k->lead3_lo, k->lead3_hi), _mm_cmpeq_epi8(v, x3));
        __m128i lead = _mm_or_si128(lead2, lead3);
        /* Continuation bytes exactly where a lead byte in this block wants
         * them (the block starts on a character boundary), with the second
         * byte of a three-byte form in its range. */
        __m128i need = _mm_or_si128(_mm_slli_si128(lead, 1), _mm_slli_si128(lead3, 2));
        __m128i bad = _mm_xor_si128(cont, need);
        if (k->second_lo != 0x80 || k->second_hi != 0xBF) /* constant: no branch */
            bad =
                _mm_or_si128(bad, _mm_andnot_si128(tm_utf8_in_range(v, k->second_lo, k->second_hi),
                                                   _mm_slli_si128(lead3, 1)));
        unsigned lead_mask = (unsigned)_mm_movemask_epi8(lead);
        unsigned lead3_mask = (unsigned)_mm_movemask_epi8(lead3);
        unsigned cont_mask = (unsigned)_mm_movemask_epi8(cont);
        /* Also bad: a high byte neither continuation nor an accepted lead. */
        unsigned bad_mask =
            stop_mask | (unsigned)_mm_movemask_epi8(bad) | (high_mask & ~(cont_mask | lead_mask));
        if (bad_mask == 0) {
            /* A character cut by the block's end is left for the next block
             * (a lead byte at 15, or a three-byte one at 14; not both). */
            unsigned cut = (lead_mask >> 15 & 1u) | (lead3_mask >> 14 & 1u) << 1;
            *multi |= (lead_mask & (0xFFFFu >> cut)) != 0;
            j += 16 - cut;
#if TM_UTF8_WIDE
            /* A long run after a clean block: the rest 32 bytes at a time. */
            if (wide && n - j >= TM_UTF8_WIDE_MIN_BYTES)
                j = tm_utf8_plain_run_wide(k, p, j, n, multi);
#endif
            continue;
        }
        return j + tm_utf8_block_stop(bad_mask, lead_mask, lead3_mask, multi);
    }
#endif
    return tm_utf8_plain_run_simple(k, p, j, n, multi);
}

#endif
