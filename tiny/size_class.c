#include "tiny/size_class.h"

uint8_t  hak_tiny_class_of[HAK_TINY_MAX_SIZE / 16 + 1];
uint32_t hak_tiny_class_size[HAK_TINY_CLASSES];

void hak_tiny_classes_init(void) {
    unsigned n = 0;
    static const uint32_t first[] = {16, 32, 48, 64};
    for (unsigned i = 0; i < 4; i++)
        hak_tiny_class_size[n++] = first[i];
    for (uint32_t base = 64; base < HAK_TINY_MAX_SIZE; base *= 2)
        for (uint32_t k = 1; k <= 4; k++)
            hak_tiny_class_size[n++] = base + k * (base / 4);

    unsigned c = 0;
    for (size_t i = 0; i <= HAK_TINY_MAX_SIZE / 16; i++) {
        while (hak_tiny_class_size[c] < i * 16)
            c++;
        hak_tiny_class_of[i] = (uint8_t)c;
    }
}
