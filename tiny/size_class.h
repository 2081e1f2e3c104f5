/* Tiny size classes: 16, 32, 48, 64, then four classes per doubling up to 32 KiB, so no
 * request above 64 B wastes more than 25%. Every block is 16-byte aligned and has room for
 * two words (the free-list link and the double-free key, tiny/tiny.h). Size -> class is
 * one load from a 2 KiB table indexed in 16-byte steps. */
#ifndef HAKMEM_TINY_SIZE_CLASS_H
#define HAKMEM_TINY_SIZE_CLASS_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

#define HAK_TINY_CLASSES   40
#define HAK_TINY_MAX_SIZE  ((size_t)32768)

extern uint8_t  hak_tiny_class_of[HAK_TINY_MAX_SIZE / 16 + 1];
extern uint32_t hak_tiny_class_size[HAK_TINY_CLASSES];

/* Filled by hak_tiny_classes_init; until then every size maps to class 0, whose thread
 * cache is empty, so the first call takes the slow path, which initialises. */
HAK_INLINE unsigned hak_tiny_size_to_class(size_t size) {
    return hak_tiny_class_of[(size + 15) >> 4];
}

void hak_tiny_classes_init(void);

#endif
