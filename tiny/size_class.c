#include "tiny/size_class.h"

uint8_t  hak_tiny_class_small[HAK_TINY_SMALL_MAX / 8 + 1];
uint8_t  hak_tiny_class_big[HAK_TINY_MAX_SIZE / 128 + 1];
uint32_t hak_tiny_class_size[HAK_TINY_CLASSES];

void hak_tiny_classes_init(void) {
    unsigned n = 0;
    static const uint32_t first[] = {8, 16, 32, 48, 64};
    for (unsigned i = 0; i < 5; i++)
        hak_tiny_class_size[n++] = first[i];
    for (uint32_t base = 64; base < HAK_TINY_MAX_SIZE; base *= 2)
        for (uint32_t k = 1; k <= 4; k++)
            hak_tiny_class_size[n++] = base + k * (base / 4);

    unsigned c = 0;
    for (size_t i = 0; i <= HAK_TINY_SMALL_MAX / 8; i++) {
        size_t size = i * 8;
        while (hak_tiny_class_size[c] < size)
            c++;
        hak_tiny_class_small[i] = (uint8_t)c;
    }
    for (size_t i = 0; i <= HAK_TINY_MAX_SIZE / 128; i++) {
        size_t size = i * 128 < HAK_TINY_SMALL_MAX ? HAK_TINY_SMALL_MAX : i * 128;
        c = 0;
        while (hak_tiny_class_size[c] < size)
            c++;
        hak_tiny_class_big[i] = (uint8_t)c;
    }
}
