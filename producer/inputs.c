/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Expanding ocrq-submit's arguments into inputs: files, URLs, and with -r
 * every regular file under a directory, walked in sorted order so that two
 * runs over the same tree submit the same sequence. Also decides the
 * --output file names, clashes resolved in input order.
 */
#include "inputs.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ocrq/status.h"
#include "ocrq/url.h"

/* Nonzero if arg looks like an http:// or https:// URL (scheme in any case). */
int inputs_is_url(const char *arg)
{
    return ocrq_url_scheme_is(arg, OCRQ_URL_HTTP);
}

/* Append one input; source is copied, error (may be NULL) is copied. */
static int add(struct input_list *l, const char *source, enum input_kind kind, const char *error)
{
    if (l->n >= INPUTS_MAX)
        return OCRQ_ERR_TOO_LARGE;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct input *items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return OCRQ_ERR_NOMEM;
        l->items = items;
        l->cap = cap;
    }
    struct input *in = &l->items[l->n];
    in->kind = kind;
    in->source = strdup(source);
    in->error = error ? strdup(error) : NULL;
    if (!in->source || (error && !in->error)) {
        free(in->source);
        free(in->error);
        return OCRQ_ERR_NOMEM;
    }
    l->n++;
    return OCRQ_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Join dir and name without doubling a trailing '/'; NULL if past PATH_MAX. */
static char *join(const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    char *p = NULL;
    int n = asprintf(&p, "%.*s%s%s", (int)dl, dir, dir[dl - 1] == '/' ? "" : "/", name);
    if (n < 0)
        return NULL;
    if (n >= PATH_MAX) {
        free(p);
        errno = ENAMETOOLONG;
        return NULL;
    }
    return p;
}

/* The names in dir, hidden ones skipped, sorted. */
static int list_dir(const char *dir, char ***names, size_t *count)
{
    DIR *d = NULL;
    char **v = NULL;
    size_t n = 0, cap = 0;
    int st = OCRQ_OK;

    *names = NULL;
    *count = 0;
    d = opendir(dir);
    if (!d) {
        st = OCRQ_ERR_IO;
        goto out;
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno)
                st = OCRQ_ERR_IO;
            break;
        }
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            char **nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                st = OCRQ_ERR_NOMEM;
                goto out;
            }
            v = nv;
            cap = nc;
        }
        if (!(v[n] = strdup(de->d_name))) {
            st = OCRQ_ERR_NOMEM;
            goto out;
        }
        n++;
    }
    if (st == OCRQ_OK) {
        if (n > 0) /* an empty directory has no array: qsort must not see NULL */
            qsort(v, n, sizeof *v, cmp_names);
        *names = v;
        *count = n;
        v = NULL;
        n = 0;
    }
out:
    if (d) {
        int saved = errno;
        closedir(d);
        errno = saved;
    }
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    return st;
}

/*
 * Add every regular file under dir. Errors on a subdirectory or entry become
 * inputs with an error; only NOMEM and the input cap stop the walk.
 */
static int walk(struct input_list *l, const char *dir, int depth)
{
    char **names = NULL;
    size_t count = 0;
    int st = list_dir(dir, &names, &count);

    if (st == OCRQ_ERR_IO)
        return add(l, dir, INPUT_FILE, strerror(errno));
    if (st != OCRQ_OK)
        return st;
    for (size_t i = 0; i < count && st == OCRQ_OK; i++) {
        char *path = join(dir, names[i]);
        struct stat sb;
        if (!path) {
            st = errno == ENAMETOOLONG ? add(l, names[i], INPUT_FILE, strerror(errno))
                                       : OCRQ_ERR_NOMEM;
            continue;
        }
        if (lstat(path, &sb) != 0)
            st = add(l, path, INPUT_FILE, strerror(errno));
        else if (S_ISREG(sb.st_mode))
            st = add(l, path, INPUT_FILE, NULL);
        else if (S_ISDIR(sb.st_mode))
            st = depth < INPUTS_MAX_DEPTH ? walk(l, path, depth + 1)
                                          : add(l, path, INPUT_FILE, "directory nested too deep");
        else if (S_ISLNK(sb.st_mode) && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            st = add(l, path, INPUT_FILE, NULL); /* links to files yes, to directories no */
        free(path);
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return st;
}

/* Expand the arguments into inputs; see inputs.h. */
int inputs_expand(char *const *args, size_t nargs, int recursive, struct input_list *out)
{
    int st = OCRQ_OK;

    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < nargs && st == OCRQ_OK; i++) {
        const char *a = args[i];
        struct stat sb;
        if (inputs_is_url(a))
            st = add(out, a, INPUT_URL, NULL);
        else if (!*a)
            st = add(out, a, INPUT_FILE, "empty file name");
        else if (stat(a, &sb) != 0)
            st = add(out, a, INPUT_FILE, strerror(errno));
        else if (S_ISREG(sb.st_mode))
            st = add(out, a, INPUT_FILE, NULL);
        else if (S_ISDIR(sb.st_mode))
            st = recursive ? walk(out, a, 0)
                           : add(out, a, INPUT_FILE, "is a directory (use -r to submit its files)");
        else
            st = add(out, a, INPUT_FILE, "not a regular file");
    }
    if (st != OCRQ_OK)
        inputs_free(out);
    return st;
}

/* Free the inputs and their strings; NULL is fine. */
void inputs_free(struct input_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++) {
        free(list->items[i].source);
        free(list->items[i].error);
    }
    free(list->items);
    memset(list, 0, sizeof *list);
}

/* --- output names --------------------------------------------------------- */

/* The stem of an input: file name (or last URL path segment) without extension. */
static char *stem_of(const struct input *in)
{
    const char *s = in->source, *end = s + strlen(s);
    const char *base;

    if (in->kind == INPUT_URL) {
        const char *host = strstr(s, "://") + 3;
        end = host + strcspn(host, "?#");
        while (end > host && end[-1] == '/')
            end--;
        base = end;
        while (base > host && base[-1] != '/')
            base--;
    } else {
        while (end > s + 1 && end[-1] == '/')
            end--;
        base = end;
        while (base > s && base[-1] != '/')
            base--;
    }
    const char *dot = NULL;
    for (const char *p = base + 1; p < end; p++) /* a leading dot is not an extension */
        if (*p == '.')
            dot = p;
    if (dot)
        end = dot;
    size_t len = (size_t)(end - base);
    if (len > NAME_MAX - 16) /* room for "-N.txt" and the temporary prefix */
        len = NAME_MAX - 16;
    if (len == 0 || (len == 1 && base[0] == '.') || (len == 2 && base[0] == '.' && base[1] == '.'))
        return strdup("output");
    char *stem = strndup(base, len);
    if (stem)
        for (char *p = stem; *p; p++)
            if (*p == '/' || (unsigned char)*p < 0x20)
                *p = '_';
    return stem;
}

/* A set of names taken, open addressing; next is the suffix to try after a clash. */
struct name_set {
    struct slot {
        const char *name;
        unsigned next;
    } * slots;
    size_t cap; /* a power of two, at least twice the entries */
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The slot holding name, or the empty slot where it would go. */
static struct slot *find_slot(struct name_set *set, const char *name)
{
    size_t i = (size_t)hash_str(name) & (set->cap - 1);
    while (set->slots[i].name && strcmp(set->slots[i].name, name) != 0)
        i = (i + 1) & (set->cap - 1);
    return &set->slots[i];
}

/* Decide the --output names; see inputs.h. */
int inputs_output_names(const struct input_list *list, char ***names)
{
    struct name_set set = {NULL, 0};
    char **v = NULL;
    int st = OCRQ_OK;

    *names = NULL;
    set.cap = 64;
    while (set.cap < list->n * 4)
        set.cap *= 2;
    set.slots = calloc(set.cap, sizeof *set.slots);
    v = calloc(list->n ? list->n : 1, sizeof *v);
    if (!set.slots || !v) {
        st = OCRQ_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < list->n; i++) {
        if (list->items[i].error)
            continue;
        char *stem = stem_of(&list->items[i]);
        if (!stem) {
            st = OCRQ_ERR_NOMEM;
            goto out;
        }
        struct slot *s = find_slot(&set, stem);
        if (!s->name) {
            v[i] = stem;
        } else {
            /* Try stem-N from where the last clash on this stem stopped. */
            struct slot *base = s;
            unsigned k = base->next ? base->next : 2;
            for (;; k++) {
                free(v[i]);
                if (asprintf(&v[i], "%s-%u", stem, k) < 0) {
                    v[i] = NULL;
                    free(stem);
                    st = OCRQ_ERR_NOMEM;
                    goto out;
                }
                s = find_slot(&set, v[i]);
                if (!s->name)
                    break;
            }
            base->next = k + 1;
            free(stem);
        }
        s->name = v[i];
    }
out:
    free(set.slots);
    if (st != OCRQ_OK) {
        inputs_free_names(v, list->n);
        v = NULL;
    }
    *names = v;
    return st;
}

/* Free what inputs_output_names() returned; NULL is fine. */
void inputs_free_names(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
