/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * JSON for ocrq's own output and input: the API's replies and its JSON
 * requests, ocrq-admin's --json lines, the CLI's status lines, the words
 * artifact, and the job messages' JSON line (common/job.c). The one module
 * over jansson (common/json.c); jansson's types stay behind struct ocrq_json.
 *
 * Building: make an object or array, add members (a failed add returns
 * OCRQ_ERR_NOMEM and callers may OR the results and check once), dump it,
 * free it. Output is compact (no spaces), members in the order they were
 * added. Strings that are not UTF-8 have their bad bytes replaced by U+FFFD.
 * A value belongs to one thread at a time; the functions keep no state.
 */
#ifndef OCRQ_JSON_H
#define OCRQ_JSON_H

#include <stddef.h>

struct ocrq_json; /* one JSON value: object, array, string, number, true, false or null */

enum ocrq_json_type {
    OCRQ_JSON_NONE = 0, /* no value (a NULL pointer) */
    OCRQ_JSON_OBJECT,
    OCRQ_JSON_ARRAY,
    OCRQ_JSON_STRING,
    OCRQ_JSON_INTEGER,
    OCRQ_JSON_REAL,
    OCRQ_JSON_BOOL,
    OCRQ_JSON_NULL,
};

/* A new empty object or array; NULL on allocation failure. Free with ocrq_json_free(). */
struct ocrq_json *ocrq_json_object(void);
struct ocrq_json *ocrq_json_array(void);

/* Free a value and everything in it. NULL is fine. */
void ocrq_json_free(struct ocrq_json *v);

/*
 * Add key to the object obj (replacing a member of that name), with the
 * value: a string (NULL: null), an integer, a real, true or false, null.
 * Return OCRQ_OK, or OCRQ_ERR_NOMEM (also when obj is NULL, so a failed
 * allocation of obj shows at the first add).
 */
int ocrq_json_set_str(struct ocrq_json *obj, const char *key, const char *s);
int ocrq_json_set_int(struct ocrq_json *obj, const char *key, long long n);
int ocrq_json_set_real(struct ocrq_json *obj, const char *key, double x);
int ocrq_json_set_bool(struct ocrq_json *obj, const char *key, int b);
int ocrq_json_set_null(struct ocrq_json *obj, const char *key);

/*
 * Add key to obj with the value v, which obj takes (it is freed with obj,
 * or at once if the add fails). v NULL (a failed allocation) fails with
 * OCRQ_ERR_NOMEM.
 */
int ocrq_json_set(struct ocrq_json *obj, const char *key, struct ocrq_json *v);

/* Append v to the array arr, which takes it (as ocrq_json_set). */
int ocrq_json_append(struct ocrq_json *arr, struct ocrq_json *v);

/* Append the string s (NULL: null) to the array arr. Returns OCRQ_OK or OCRQ_ERR_NOMEM. */
int ocrq_json_append_str(struct ocrq_json *arr, const char *s);

/* Flags of ocrq_json_dump() and ocrq_json_parse(). */
enum {
    OCRQ_JSON_FOR_PEOPLE =
        1, /* dump: reals with 15 significant digits (0.1, not 0.10000000000000001) */
    OCRQ_JSON_UNIQUE_KEYS = 2, /* parse: refuse an object with a key twice (else the last wins) */
    OCRQ_JSON_WHY_AT = 4       /* parse: the reason starts with "byte N: ", where it went wrong */
};

/*
 * v as compact JSON text without a trailing newline. Reals print with 17
 * significant digits, so they read back the same, unless flags has
 * OCRQ_JSON_FOR_PEOPLE; a real that is a whole number ends in ".0". Returns
 * a malloc'd string (caller frees) or NULL on allocation failure or when v
 * is NULL.
 */
char *ocrq_json_dump(const struct ocrq_json *v, unsigned flags);

/*
 * s as one JSON string literal, quotes included ("a\"b"), for output written
 * piece by piece. NULL gives "null". Returns a malloc'd string (caller
 * frees) or NULL on allocation failure.
 */
char *ocrq_json_quote(const char *s);

/*
 * Parse len bytes of text as one JSON object or array (nothing else at the
 * top); flags may hold OCRQ_JSON_UNIQUE_KEYS and OCRQ_JSON_WHY_AT. Returns OCRQ_OK with *out
 * (caller frees with ocrq_json_free()), or OCRQ_ERR_INVALID with *out NULL
 * and the parser's reason in why (may be NULL), e.g. "'[' or '{' expected
 * near 'x'".
 */
int ocrq_json_parse(const char *text, size_t len, unsigned flags, struct ocrq_json **out, char *why,
                    size_t whylen);

/* Nonzero if text (NUL-terminated, may be NULL) parses as a JSON object. */
int ocrq_json_is_object(const char *text);

/* The type of v; OCRQ_JSON_NONE for NULL. */
enum ocrq_json_type ocrq_json_type(const struct ocrq_json *v);

/* The member key of obj, borrowed from obj; NULL if absent or obj is not an object. */
const struct ocrq_json *ocrq_json_get(const struct ocrq_json *obj, const char *key);

/*
 * The text of a string value (borrowed from v, NUL-terminated, no NUL
 * inside) and its length in *len (may be NULL); NULL if v is not a string.
 */
const char *ocrq_json_str(const struct ocrq_json *v, size_t *len);

/* The value of an integer; 0 if v is not an integer. */
long long ocrq_json_int(const struct ocrq_json *v);

/* The number of items of an array (0 for anything else), and item i (borrowed; NULL past the end).
 */
size_t ocrq_json_size(const struct ocrq_json *arr);
const struct ocrq_json *ocrq_json_at(const struct ocrq_json *arr, size_t i);

/*
 * The first member name of obj (in document order) that is not one of the
 * n names in keys, borrowed from obj; NULL if there is none.
 */
const char *ocrq_json_key_not_in(const struct ocrq_json *obj, const char *const *keys, size_t n);

#endif
