/* Tiny size classes: 8, 16, 32, 48, 64, then four classes per doubling up to 32 KiB, so
 * no request above 64 B wastes more than 25%. Size -> class is one table load. */
#ifndef HAKMEM_TINY_SIZE_CLASS_H
#define HAKMEM_TINY_SIZE_CLASS_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

#define HAK_TINY_CLASSES   41
#define HAK_TINY_MAX_SIZE  ((size_t)32768)
#define HAK_TINY_SMALL_MAX ((size_t)1024) /* below: 8 B steps in the table; above: 128 B */

extern uint8_t  hak_tiny_class_small[HAK_TINY_SMALL_MAX / 8 + 1];
extern uint8_t  hak_tiny_class_big[HAK_TINY_MAX_SIZE / 128 + 1];
extern uint32_t hak_tiny_class_size[HAK_TINY_CLASSES];

/* Filled by hak_tiny_classes_init; until then every size maps to class 0, whose thread
 * cache is empty, so the first call takes the slow path, which initialises. */
HAK_INLINE unsigned hak_tiny_size_to_class(size_t size) {
    return size <= HAK_TINY_SMALL_MAX ? hak_tiny_class_small[(size + 7) >> 3]
                                      : hak_tiny_class_big[(size + 127) >> 7];
}

void hak_tiny_classes_init(void);

#endif
