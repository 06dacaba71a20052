/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * JSON built and read for the job codec, the API, the CLI and ocrq-admin
 * (ocrq/json.h): thin wrappers over jansson that keep its types out of the
 * callers. A struct ocrq_json is a json_t; only this file includes jansson.
 */
#include "ocrq/json.h"

#include "ocrq/status.h"
#include "ocrq/utf8.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

static json_t *J(const struct ocrq_json *v)
{
    return (json_t *)v;
}

struct ocrq_json *ocrq_json_object(void)
{
    return (struct ocrq_json *)json_object();
}

struct ocrq_json *ocrq_json_array(void)
{
    return (struct ocrq_json *)json_array();
}

void ocrq_json_free(struct ocrq_json *v)
{
    json_decref(J(v));
}

/* A JSON string of s (NULL: null); bytes that are not UTF-8 become U+FFFD. */
static json_t *string_of(const char *s)
{
    char *clean;
    json_t *v;

    if (!s)
        return json_null();
    if (ocrq_utf8_valid(s))
        return json_string(s);
    clean = ocrq_utf8_sanitize(s);
    v = clean ? json_string(clean) : NULL;
    free(clean);
    return v;
}

/* Add v (taken) as key of obj. */
static int set_new(struct ocrq_json *obj, const char *key, json_t *v)
{
    if (!obj || !v || json_object_set_new(J(obj), key, v) != 0) {
        json_decref(v);
        return OCRQ_ERR_NOMEM;
    }
    return OCRQ_OK;
}

int ocrq_json_set_str(struct ocrq_json *obj, const char *key, const char *s)
{
    return set_new(obj, key, string_of(s));
}

int ocrq_json_set_int(struct ocrq_json *obj, const char *key, long long n)
{
    return set_new(obj, key, json_integer((json_int_t)n));
}

int ocrq_json_set_real(struct ocrq_json *obj, const char *key, double x)
{
    return set_new(obj, key, json_real(x));
}

int ocrq_json_set_bool(struct ocrq_json *obj, const char *key, int b)
{
    return set_new(obj, key, json_boolean(b));
}

int ocrq_json_set_null(struct ocrq_json *obj, const char *key)
{
    return set_new(obj, key, json_null());
}

int ocrq_json_set(struct ocrq_json *obj, const char *key, struct ocrq_json *v)
{
    return set_new(obj, key, J(v));
}

int ocrq_json_append(struct ocrq_json *arr, struct ocrq_json *v)
{
    if (!arr || !v || json_array_append_new(J(arr), J(v)) != 0) {
        json_decref(J(v));
        return OCRQ_ERR_NOMEM;
    }
    return OCRQ_OK;
}

int ocrq_json_append_str(struct ocrq_json *arr, const char *s)
{
    return ocrq_json_append(arr, (struct ocrq_json *)string_of(s));
}

char *ocrq_json_dump(const struct ocrq_json *v, unsigned flags)
{
    size_t f = DUMP_FLAGS | ((flags & OCRQ_JSON_FOR_PEOPLE) ? JSON_REAL_PRECISION(15) : 0);

    return v ? json_dumps(J(v), f) : NULL;
}

char *ocrq_json_quote(const char *s)
{
    json_t *v = string_of(s);
    char *text = v ? json_dumps(v, DUMP_FLAGS) : NULL;

    json_decref(v);
    return text;
}

int ocrq_json_parse(const char *text, size_t len, unsigned flags, struct ocrq_json **out, char *why,
                    size_t whylen)
{
    json_error_t jerr;
    json_t *v =
        json_loadb(text, len, (flags & OCRQ_JSON_UNIQUE_KEYS) ? JSON_REJECT_DUPLICATES : 0, &jerr);

    *out = (struct ocrq_json *)v;
    if (!v) {
        if (why && whylen > 0 && (flags & OCRQ_JSON_WHY_AT))
            snprintf(why, whylen, "byte %d: %s", jerr.position, jerr.text);
        else if (why && whylen > 0)
            snprintf(why, whylen, "%s", jerr.text);
        return OCRQ_ERR_INVALID;
    }
    return OCRQ_OK;
}

/* Nonzero if text (NUL-terminated, may be NULL) parses as a JSON object. Thread-safe. */
int ocrq_json_is_object(const char *text)
{
    json_t *v;
    int ok;

    if (!text)
        return 0;
    v = json_loads(text, 0, NULL);
    ok = json_is_object(v);
    json_decref(v);
    return ok;
}

enum ocrq_json_type ocrq_json_type(const struct ocrq_json *v)
{
    if (!v)
        return OCRQ_JSON_NONE;
    switch (json_typeof(J(v))) {
    case JSON_OBJECT:
        return OCRQ_JSON_OBJECT;
    case JSON_ARRAY:
        return OCRQ_JSON_ARRAY;
    case JSON_STRING:
        return OCRQ_JSON_STRING;
    case JSON_INTEGER:
        return OCRQ_JSON_INTEGER;
    case JSON_REAL:
        return OCRQ_JSON_REAL;
    case JSON_TRUE:
    case JSON_FALSE:
        return OCRQ_JSON_BOOL;
    case JSON_NULL:
        return OCRQ_JSON_NULL;
    }
    return OCRQ_JSON_NONE;
}

const struct ocrq_json *ocrq_json_get(const struct ocrq_json *obj, const char *key)
{
    return (const struct ocrq_json *)json_object_get(J(obj), key);
}

const char *ocrq_json_str(const struct ocrq_json *v, size_t *len)
{
    const char *s = json_string_value(J(v));

    if (len)
        *len = s ? json_string_length(J(v)) : 0;
    return s;
}

long long ocrq_json_int(const struct ocrq_json *v)
{
    return (long long)json_integer_value(J(v));
}

size_t ocrq_json_size(const struct ocrq_json *arr)
{
    return json_array_size(J(arr));
}

const struct ocrq_json *ocrq_json_at(const struct ocrq_json *arr, size_t i)
{
    return (const struct ocrq_json *)json_array_get(J(arr), i);
}

const char *ocrq_json_key_not_in(const struct ocrq_json *obj, const char *const *keys, size_t n)
{
    const char *k;
    json_t *v;

    json_object_foreach(J(obj), k, v)
    {
        size_t i = 0;
        (void)v;
        while (i < n && strcmp(k, keys[i]) != 0)
            i++;
        if (i == n)
            return k;
    }
    return NULL;
}
