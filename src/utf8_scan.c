/* tinmoi — utf8_scan_int.h's wide form: long plain runs 32 bytes at a time
 * with AVX2, on the processors that have it (checked at run time: the
 * library is built for plain x86-64). The same tests as the 16-byte form,
 * on twice the bytes; the lane-crossing shifts are the only new part. */
#include "utf8_scan_int.h"

#if TM_UTF8_WIDE
#include <immintrin.h>

#define TM_AVX2 __attribute__((target("avx2")))

/* Bytes in [lo, hi], both bounds high bytes (see tm_utf8_in_range). */
TM_AVX2 static inline __m256i in_range32(__m256i v, unsigned char lo, unsigned char hi)
{
    return _mm256_andnot_si256(_mm256_cmpgt_epi8(_mm256_set1_epi8((char)lo), v),
                               _mm256_cmpgt_epi8(_mm256_set1_epi8((char)(hi + 1)), v));
}

/* v moved up by one or two bytes across the whole 32, zeros shifted in:
 * byte i of the result is byte i - 1 (i - 2) of v. */
TM_AVX2 static inline __m256i up1(__m256i v)
{
    return _mm256_alignr_epi8(v, _mm256_permute2x128_si256(v, v, 0x08), 15);
}

TM_AVX2 static inline __m256i up2(__m256i v)
{
    return _mm256_alignr_epi8(v, _mm256_permute2x128_si256(v, v, 0x08), 14);
}

TM_AVX2 size_t tm_utf8_plain_run_wide(const struct tm_utf8_plain *k, const unsigned char *p,
                                      size_t j, size_t n, bool *multi)
{
    const __m256i s0 = _mm256_set1_epi8(k->stop[0]), s1 = _mm256_set1_epi8(k->stop[1]);
    const __m256i s2 = _mm256_set1_epi8(k->stop[2]), s3 = _mm256_set1_epi8(k->stop[3]);
    const __m256i space = _mm256_set1_epi8(0x20), tab = _mm256_set1_epi8('\t');
    const __m256i lf = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r');
    const __m256i c0 = _mm256_set1_epi8((char)0xC0);
    const __m256i x3 = _mm256_set1_epi8((char)k->lead3_extra);
    bool narrow = k->second_lo != 0x80 || k->second_hi != 0xBF;
    while (j + 32 <= n) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + j));
        __m256i stop =
            _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, s0), _mm256_cmpeq_epi8(v, s1)),
                            _mm256_or_si256(_mm256_cmpeq_epi8(v, s2), _mm256_cmpeq_epi8(v, s3)));
        __m256i low = _mm256_andnot_si256(
            _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, tab), _mm256_cmpeq_epi8(v, lf)),
                            _mm256_cmpeq_epi8(v, cr)),
            _mm256_cmpgt_epi8(space, v));
        unsigned high_mask = (unsigned)_mm256_movemask_epi8(v);
        unsigned stop_mask =
            (unsigned)_mm256_movemask_epi8(_mm256_or_si256(stop, low)) & ~high_mask;
        if ((high_mask & ((stop_mask & -stop_mask) - 1u)) == 0) {
            if (stop_mask != 0)
                return j + (unsigned)__builtin_ctz(stop_mask);
            j += 32;
            continue;
        }
        __m256i cont = _mm256_cmpgt_epi8(c0, v);
        __m256i lead2 = in_range32(v, k->lead2_lo, k->lead2_hi);
        __m256i lead3 =
            _mm256_or_si256(in_range32(v, k->lead3_lo, k->lead3_hi), _mm256_cmpeq_epi8(v, x3));
        __m256i lead = _mm256_or_si256(lead2, lead3);
        __m256i bad = _mm256_xor_si256(cont, _mm256_or_si256(up1(lead), up2(lead3)));
        if (narrow)
            bad = _mm256_or_si256(
                bad, _mm256_andnot_si256(in_range32(v, k->second_lo, k->second_hi), up1(lead3)));
        unsigned lead_mask = (unsigned)_mm256_movemask_epi8(lead);
        unsigned lead3_mask = (unsigned)_mm256_movemask_epi8(lead3);
        unsigned cont_mask = (unsigned)_mm256_movemask_epi8(cont);
        unsigned bad_mask = stop_mask | (unsigned)_mm256_movemask_epi8(bad) |
                            (high_mask & ~(cont_mask | lead_mask));
        if (bad_mask == 0) {
            unsigned cut = (lead_mask >> 31 & 1u) | (lead3_mask >> 30 & 1u) << 1;
            *multi |= (lead_mask & (0xFFFFFFFFu >> cut)) != 0;
            j += 32 - cut;
            continue;
        }
        return j + tm_utf8_block_stop(bad_mask, lead_mask, lead3_mask, multi);
    }
    return j;
}

#endif
