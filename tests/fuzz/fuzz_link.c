/* libFuzzer target for canonical links (src/identity.c): wherever the fast
 * path answers, curl's URL API must give the same link. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity_int.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstring(data, size);
    if (s == NULL)
        return 0;
    bool slow = true;
    char *fast = tm_identity_link_canonical_fast(s, &slow);
    if (!slow) {
        char *ref = tm_identity_link_canonical_curl(s);
        if (ref == NULL || strcmp(fast, ref) != 0)
            abort();
        free(ref);
    }
    free(fast);
    free(s);
    return 0;
}
