/* Prints docs/OPTIONS.md from the options table (hak_config_info), so the docs and the code
 * cannot disagree: tests/core/options_doc_test.sh compares the output with the file. */
#include <stdio.h>
#include <string.h>

#include "hakmem/hakmem.h"

static void cell(const char *s) {
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", stdout);
        else
            putchar(*s);
    }
}

int main(void) {
    puts("# hakmem options");
    puts("");
    puts("Generated from the options table (`core/option_list.h`) by `tools/gen_options_doc`;");
    puts("regenerate with `cmake --build build --target docs_options`. Each option is read from");
    puts("the environment at start-up (the variable in the table, then its alias) and through");
    puts("`hak_config_get` / `hak_config_set` (keys below). Options marked *start-up* can only be");
    puts("set before hakmem initialises (the environment, or `hak_config_set` before the first");
    puts("allocation); the others can change at any time from any thread.");
    puts("");
    puts("| key | type | default | environment | when | meaning |");
    puts("|---|---|---|---|---|---|");
    size_t n = hak_config_count();
    for (size_t i = 0; i < n; i++) {
        hak_option_info o;
        if (hak_config_info(i, &o) != 0)
            return 1;
        printf("| `%s` | %s", o.key, o.type);
        if (o.choices) {
            fputs(" (", stdout);
            cell(o.choices);
            fputs(")", stdout);
        }
        if (o.env)
            printf(" | `%s` | `%s`", o.default_value, o.env);
        else
            printf(" | `%s` | none", o.default_value);
        if (o.env_alias)
            printf(", `%s`", o.env_alias);
        printf(" | %s | ", o.runtime ? "run time" : "start-up");
        cell(o.help);
        puts(" |");
    }
    puts("");
    puts("Bad values in the environment are reported on stderr (one line) and the default is");
    puts("kept. `hak_config_set` returns -1 with errno ENOENT (unknown key), EINVAL (bad value),");
    puts("EPERM (start-up option after initialisation) or ENOTSUP (`large.policy` without the");
    puts("policy room linked).");
    return 0;
}
