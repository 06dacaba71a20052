/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for producer/api_ui_sessions.c, the dashboard's login
 * sessions: ids and CSRF tokens are 64 hex digits, all different; a
 * session is found by its id only (not by a prefix, another id or its
 * CSRF token), ends at logout, and the table holds API_UI_SESSIONS: one
 * more login replaces the session that expires first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "api_ui.h"

static int hex64(const char *s)
{
    return strlen(s) == API_UI_SESSION_CHARS && strspn(s, "0123456789abcdef") == strlen(s);
}

static void new_get_end(void **state)
{
    char id[API_UI_SESSION_CHARS + 1], csrf[API_UI_SESSION_CHARS + 1];
    char id2[API_UI_SESSION_CHARS + 1], csrf2[API_UI_SESSION_CHARS + 1];
    char name[API_KEY_NAME_MAX], token[API_UI_SESSION_CHARS + 1];
    (void)state;

    assert_int_equal(api_ui_session_new("ops", id, csrf), 0);
    assert_int_equal(api_ui_session_new("other", id2, csrf2), 0);
    assert_true(hex64(id) && hex64(csrf) && hex64(id2) && hex64(csrf2));
    assert_string_not_equal(id, id2);
    assert_string_not_equal(id, csrf);

    assert_int_equal(api_ui_session_get(id, name, token), 0);
    assert_string_equal(name, "ops");
    assert_string_equal(token, csrf);
    assert_int_equal(api_ui_session_get(id2, name, token), 0);
    assert_string_equal(name, "other");
    assert_string_equal(token, csrf2);

    /* not by its CSRF token, a prefix, a changed digit, nothing */
    assert_int_equal(api_ui_session_get(csrf, name, token), -1);
    char part[API_UI_SESSION_CHARS + 1];
    snprintf(part, sizeof part, "%.63s", id);
    assert_int_equal(api_ui_session_get(part, name, token), -1);
    snprintf(part, sizeof part, "%s", id);
    part[10] = part[10] == '0' ? '1' : '0';
    assert_int_equal(api_ui_session_get(part, name, token), -1);
    assert_int_equal(api_ui_session_get("", name, token), -1);
    assert_int_equal(api_ui_session_get(NULL, name, token), -1);

    /* logout ends it, once; the other stays */
    assert_int_equal(api_ui_session_end(id), 0);
    assert_int_equal(api_ui_session_get(id, name, token), -1);
    assert_int_equal(api_ui_session_end(id), -1);
    assert_int_equal(api_ui_session_get(id2, name, token), 0);
    assert_int_equal(api_ui_session_end(id2), 0);
}

static void bounded(void **state)
{
    static char ids[API_UI_SESSIONS + 1][API_UI_SESSION_CHARS + 1];
    char csrf[API_UI_SESSION_CHARS + 1], name[API_KEY_NAME_MAX], token[API_UI_SESSION_CHARS + 1];
    (void)state;

    for (int i = 0; i < API_UI_SESSIONS; i++)
        assert_int_equal(api_ui_session_new("k", ids[i], csrf), 0);
    for (int i = 0; i < API_UI_SESSIONS; i++)
        assert_int_equal(api_ui_session_get(ids[i], name, token), 0);
    /* one more: the first login expires first, and goes */
    assert_int_equal(api_ui_session_new("k", ids[API_UI_SESSIONS], csrf), 0);
    assert_int_equal(api_ui_session_get(ids[0], name, token), -1);
    for (int i = 1; i <= API_UI_SESSIONS; i++)
        assert_int_equal(api_ui_session_get(ids[i], name, token), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_get_end),
        cmocka_unit_test(bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
