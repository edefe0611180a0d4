/* Tests for src/copy_int.h: tm_copy writes exactly what memcpy writes, and
 * nothing around it, for every size across its 1-3 / 4-7 / 8-16 / longer
 * cases and every alignment of source and destination. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "copy_int.h"

static void test_copy_sizes(void **state)
{
    (void)state;
    unsigned char src[64], want[96], got[96];
    for (size_t k = 0; k < sizeof src; k++)
        src[k] = (unsigned char)(k * 7 + 1);
    for (size_t n = 0; n <= 40; n++) {
        for (size_t so = 0; so < 8; so++) {
            for (size_t doff = 0; doff < 8; doff++) {
                memset(want, 0xAA, sizeof want);
                memset(got, 0xAA, sizeof got);
                memcpy(want + 16 + doff, src + so, n);
                tm_copy(got + 16 + doff, src + so, n);
                if (memcmp(want, got, sizeof want) != 0)
                    fail_msg("n %zu, source offset %zu, destination offset %zu", n, so, doff);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
