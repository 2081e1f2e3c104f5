/* Small-block misuse under LD_PRELOAD=libhakmem.so, where free finds a block through the
 * SuperSlab region and computes its descriptor (core/front.h): the tiny tests link the
 * static libraries, which take the slab map instead. Run with HAKMEM_CORE_FOREIGN_FREE=
 * ignore, one case per run:
 *   double    the same block freed twice;
 *   interior  a pointer 16 bytes into a block;
 *   released  every block of several slabs freed, then each freed again: the slabs have
 *             gone back to the provider (or wait in the heap's reserve), and every second
 *             free must be refused, none pushed. With HAKMEM_TINY_PURGE_DELAY_MS=0 the
 *             released slabs' pages are dropped, so only their descriptors can tell.
 *   decommitted the same with enough SuperSlabs that most are given back to the OS.
 *   realloc   realloc of freed blocks whose slabs went back: refused and reported, not
 *             handed to the C library (and malloc_usable_size says 0).
 * Prints "reports <n>": how many frees were misuse, each of which must have printed one
 * "hakmem:" line on stderr. Exit 0 when the blocks kept live kept their contents and the
 * blocks allocated afterwards are distinct; 2 otherwise. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP 8
#define SIZE 48
#define MANY 8192 /* 1 KiB blocks: 128 slabs' worth */

static int distinct_after(size_t size, size_t n) {
    void **p = malloc(n * sizeof *p);
    if (!p)
        return 0;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        p[i] = malloc(size);
        if (!p[i])
            return 0;
        memset(p[i], (int)(i & 0xff), size);
    }
    for (size_t i = 0; i < n; i++)
        ok &= ((unsigned char *)p[i])[0] == (unsigned char)(i & 0xff) &&
              ((unsigned char *)p[i])[size - 1] == (unsigned char)(i & 0xff);
    for (size_t i = 0; i < n; i++)
        free(p[i]);
    free(p);
    return ok;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    unsigned char *keep[KEEP];
    for (int i = 0; i < KEEP; i++) {
        keep[i] = malloc(SIZE);
        if (!keep[i])
            return 2;
        memset(keep[i], 0x40 + i, SIZE);
    }
    size_t reports = 0;
    if (strcmp(mode, "double") == 0) {
        unsigned char *p = malloc(SIZE);
        free(p);
        free(p);
        reports = 1;
    } else if (strcmp(mode, "interior") == 0) {
        free(keep[3] + 16);
        reports = 1;
    } else if (strcmp(mode, "realloc") == 0) {
        /* realloc of blocks already freed, most of them in slabs given back: each is
         * reported once (a pointer into no slab, or the double free of the old block). */
        void **many = malloc(MANY * sizeof *many);
        if (!many)
            return 2;
        for (size_t i = 0; i < MANY; i++)
            if (!(many[i] = malloc(1024)))
                return 2;
        for (size_t i = 0; i < MANY; i++)
            free(many[i]);
        size_t zero_usable = 0;
        for (size_t i = 0; i < MANY; i++)
            zero_usable += malloc_usable_size(many[i]) == 0;
        if (zero_usable == 0)
            return 2; /* released slabs hold no block: their pointers have no usable size */
        for (size_t i = 0; i < MANY; i++)
            many[i] = realloc(many[i], 16); /* NULL when refused; a new block otherwise */
        for (size_t i = 0; i < MANY; i++)
            free(many[i]);
        reports = MANY;
        free(many);
    } else if (strcmp(mode, "released") == 0 || strcmp(mode, "decommitted") == 0) {
        /* decommitted: 32 KiB blocks, 62 to a SuperSlab, 100 SuperSlabs' worth: past the 64
         * SuperSlabs kept empty, the rest are decommitted and their descriptors read zero. */
        size_t count = mode[0] == 'r' ? MANY : 100 * 62;
        size_t size = mode[0] == 'r' ? 1024 : 32768;
        void **many = malloc(count * sizeof *many);
        if (!many)
            return 2;
        for (size_t i = 0; i < count; i++)
            if (!(many[i] = malloc(size)))
                return 2;
        for (size_t i = 0; i < count; i++)
            free(many[i]);
        /* Nothing allocated in between: a slab kept empty by the heap and handed to another
         * class would turn some second frees into frees of live blocks. */
        for (size_t i = 0; i < count; i++)
            free(many[i]);
        reports = count;
        free(many);
    } else {
        fprintf(stderr, "usage: preload_misuse double|interior|released|decommitted|realloc\n");
        return 1;
    }
    int ok = 1;
    for (int i = 0; i < KEEP; i++)
        for (int j = 0; j < SIZE; j++)
            ok &= keep[i][j] == 0x40 + i;
    ok &= distinct_after(SIZE, 4096);
    ok &= distinct_after(1024, MANY);
    printf("reports %zu\n", reports);
    return ok ? 0 : 2;
}
