/* Options room of core: one table, read by the config API, the environment and the docs. */
#include "core/options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/compiler.h"
#include "core/components.h"
#include "core/init.h"
#include "core/purge.h"
#include "core/report.h"
#include "hakmem/hakmem.h"

enum opt_type { T_BOOL, T_INT, T_SIZE, T_ENUM, T_POLICY, T_ACTION };

typedef struct option_def {
    const char *key;
    enum opt_type type;
    const char *type_name;
    const char *def;
    const char *choices;
    int64_t min, max;
    int runtime;
    const char *env, *env_alias, *help;
} option_def;

static const option_def defs[HAK_OPT_COUNT] = {
#define HAK_OPTION_DEF(id, key, type, def, choices, min, max, runtime, env, alias, help) \
    {key, T_##type, #type, def, choices, min, max, runtime, env, alias, help},
    HAK_OPTION_LIST(HAK_OPTION_DEF)
#undef HAK_OPTION_DEF
};

_Atomic int64_t hak_option_values[HAK_OPT_COUNT];

/* large.policy until the registry exists (environment, or set before init). */
static char pending_policy[32];

static const char *type_label(enum opt_type t) {
    static const char *const names[] = {"bool", "int", "size", "enum", "string", "action"};
    return names[t];
}

static int find_option(const char *key) {
    if (!key)
        return -1;
    for (int i = 0; i < HAK_OPT_COUNT; i++)
        if (strcmp(defs[i].key, key) == 0)
            return i;
    return -1;
}

int hak_parse_size(const char *s, int64_t *out) {
    if (!s || !*s)
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return -1;
    unsigned long long mult = 1;
    switch (*end) {
    case 'k': case 'K': mult = 1ull << 10; end++; break;
    case 'm': case 'M': mult = 1ull << 20; end++; break;
    case 'g': case 'G': mult = 1ull << 30; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'I')
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end != '\0' || v > (unsigned long long)INT64_MAX / mult)
        return -1;
    *out = (int64_t)(v * mult);
    return 0;
}

static int parse_bool(const char *s, int64_t *out) {
    static const char *const yes[] = {"1", "true", "on", "yes"};
    static const char *const no[] = {"0", "false", "off", "no"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *out = 1; return 0; }
        if (strcasecmp(s, no[i]) == 0) { *out = 0; return 0; }
    }
    return -1;
}

static int parse_int(const char *s, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_enum(const char *choices, const char *s, int64_t *out) {
    int64_t idx = 0;
    size_t len = strlen(s);
    for (const char *c = choices; *c; idx++) {
        const char *bar = strchr(c, '|');
        size_t n = bar ? (size_t)(bar - c) : strlen(c);
        if (n == len && strncmp(c, s, n) == 0) {
            *out = idx;
            return 0;
        }
        if (!bar)
            break;
        c = bar + 1;
    }
    return -1;
}

static int valid_policy_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof pending_policy)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Parses value for option i into *out (not for POLICY). 0 ok, -1 bad value. */
static int parse_value(int i, const char *value, int64_t *out) {
    const option_def *d = &defs[i];
    switch (d->type) {
    case T_BOOL:
    case T_ACTION: return parse_bool(value, out);
    case T_ENUM:
        /* An enum that extends a switch ("0|1|json") takes the boolean words too. */
        if (strncmp(d->choices, "0|1|", 4) == 0 && parse_bool(value, out) == 0)
            return 0;
        return parse_enum(d->choices, value, out);
    case T_INT:
    case T_SIZE: {
        int64_t v;
        int bad = d->type == T_SIZE ? hak_parse_size(value, &v) : parse_int(value, &v);
        if (bad || v < d->min || v > d->max)
            return -1;
        *out = v;
        return 0;
    }
    case T_POLICY: return -1;
    }
    return -1;
}

static void expected_text(int i, char *buf, size_t len) {
    const option_def *d = &defs[i];
    switch (d->type) {
    case T_BOOL: snprintf(buf, len, "0|1|true|false|on|off"); break;
    case T_ENUM: snprintf(buf, len, "%s", d->choices); break;
    case T_INT:
    case T_SIZE:
        snprintf(buf, len, "%s from %lld to %lld", d->type == T_SIZE ? "a size" : "an integer",
                 (long long)d->min, (long long)d->max);
        break;
    case T_POLICY: snprintf(buf, len, "a registered policy name"); break;
    case T_ACTION: snprintf(buf, len, "1"); break;
    }
}

void hak_option_override(enum hak_option_id id, int64_t value) {
    if (value < 0 && parse_value(id, defs[id].def, &value) != 0)
        return;
    atomic_store(&hak_option_values[id], value);
}

void hak_options_load_env(void) {
    for (int i = 0; i < HAK_OPT_COUNT; i++) {
        const option_def *d = &defs[i];
        int64_t v = 0;
        if (d->type != T_POLICY && parse_value(i, d->def, &v) == 0)
            atomic_store(&hak_option_values[i], v);
        if (!d->env)
            continue; /* actions are not read from the environment */
        const char *name = d->env;
        const char *value = getenv(d->env);
        if (!value && d->env_alias) {
            name = d->env_alias;
            value = getenv(d->env_alias);
        }
        if (!value)
            continue;
        if (d->type == T_POLICY) {
            if (valid_policy_name(value)) {
                strcpy(pending_policy, value);
                continue;
            }
        } else if (parse_value(i, value, &v) == 0) {
            atomic_store(&hak_option_values[i], v);
            continue;
        }
        char expected[96];
        expected_text(i, expected, sizeof expected);
        hak_report("ignoring %s=%s: expected %s; using the default '%s'", name, value, expected,
                   d->def);
    }
}

void hak_options_apply_deferred(void) {
    if (!hak_policy_select)
        return;
    if (pending_policy[0] && hak_policy_select(HAK_SLOT_LARGE, pending_policy) != 0) {
        hak_report("ignoring %s=%s: no such large policy; using the default '%s'",
                   defs[HAK_OPT_LARGE_POLICY].env, pending_policy, defs[HAK_OPT_LARGE_POLICY].def);
        hak_policy_select(HAK_SLOT_LARGE, defs[HAK_OPT_LARGE_POLICY].def);
    } else if (!pending_policy[0]) {
        hak_policy_select(HAK_SLOT_LARGE, defs[HAK_OPT_LARGE_POLICY].def);
    }
    pending_policy[0] = '\0';
    /* The kill switch wins over any policy choice. */
    if (hak_option(HAK_OPT_LARGE_FORCE_MMAP))
        hak_policy_select(HAK_SLOT_LARGE, "mmap");
}

static void run_action(int i) {
    if (i == HAK_OPT_LARGE_FLUSH && HAK_HAS(large))
        hak_large_flush();
}

HAK_API int hak_config_set(const char *key, const char *value) {
    int i = find_option(key);
    if (i < 0) {
        errno = ENOENT;
        return -1;
    }
    if (!value) {
        errno = EINVAL;
        return -1;
    }
    const option_def *d = &defs[i];
    if (!d->runtime) {
        if (hak_init_started()) {
            errno = EPERM;
            return -1;
        }
    } else {
        hak_init_ensure();
    }
    if (d->type == T_POLICY) {
        if (!valid_policy_name(value)) {
            errno = EINVAL;
            return -1;
        }
        if (!hak_policy_select) {
            errno = ENOTSUP; /* the policy room is not linked */
            return -1;
        }
        if (hak_policy_select(HAK_SLOT_LARGE, value) != 0) {
            errno = EINVAL;
            return -1;
        }
        return 0;
    }
    int64_t v;
    if (parse_value(i, value, &v) != 0) {
        errno = EINVAL;
        return -1;
    }
    if (d->type == T_ACTION) {
        if (v)
            run_action(i);
        return 0;
    }
    atomic_store(&hak_option_values[i], v);
    if (i == HAK_OPT_LARGE_FORCE_MMAP && v && hak_policy_select)
        hak_policy_select(HAK_SLOT_LARGE, "mmap");
    if (i == HAK_OPT_CORE_BACKGROUND_THREAD && v)
        hak_purge_background_start();
    return 0;
}

static int format_value(int i, char *buf, size_t len) {
    const option_def *d = &defs[i];
    int64_t v = hak_option((enum hak_option_id)i);
    int n;
    switch (d->type) {
    case T_BOOL:
    case T_INT:
    case T_SIZE:
    case T_ACTION: n = snprintf(buf, len, "%lld", (long long)v); break;
    case T_ENUM: {
        const char *c = d->choices;
        for (int64_t k = 0; k < v && c; k++) {
            c = strchr(c, '|');
            if (c)
                c++;
        }
        size_t w = c ? strcspn(c, "|") : 0;
        n = snprintf(buf, len, "%.*s", (int)w, c ? c : "");
        break;
    }
    case T_POLICY: {
        const char *cur = hak_policy_current ? hak_policy_current(HAK_SLOT_LARGE) : NULL;
        n = snprintf(buf, len, "%s", cur ? cur : (pending_policy[0] ? pending_policy : d->def));
        break;
    }
    default: n = -1;
    }
    if (n < 0 || (size_t)n >= len) {
        errno = ERANGE;
        return -1;
    }
    return 0;
}

HAK_API int hak_config_get(const char *key, char *buf, size_t len) {
    int i = find_option(key);
    if (i < 0) {
        errno = ENOENT;
        return -1;
    }
    if (!buf || len == 0) {
        errno = ERANGE;
        return -1;
    }
    hak_init_ensure();
    return format_value(i, buf, len);
}

HAK_API size_t hak_config_count(void) {
    return HAK_OPT_COUNT;
}

HAK_API int hak_config_info(size_t index, hak_option_info *out) {
    if (index >= HAK_OPT_COUNT || !out) {
        errno = index >= HAK_OPT_COUNT ? ENOENT : EINVAL;
        return -1;
    }
    const option_def *d = &defs[index];
    out->key = d->key;
    out->type = type_label(d->type);
    out->default_value = d->def;
    out->env = d->env;
    out->env_alias = d->env_alias;
    out->runtime = d->runtime;
    out->choices = d->choices;
    out->help = d->help;
    return 0;
}

HAK_API void hak_config_print(int fd) {
    hak_init_ensure();
    for (int i = 0; i < HAK_OPT_COUNT; i++) {
        char value[64];
        if (format_value(i, value, sizeof value) != 0)
            strcpy(value, "?");
        const option_def *d = &defs[i];
        char line[512];
        int n = snprintf(line, sizeof line, "%-22s = %-8s # %s (%s, default %s, env %s%s%s, %s)\n",
                         d->key, value, d->help, type_label(d->type), d->def,
                         d->env ? d->env : "none",
                         d->env_alias ? " or " : "", d->env_alias ? d->env_alias : "",
                         d->runtime ? "run time" : "start-up only");
        if (n > 0)
            hak_write_all(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
}
