/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests of ocrq-submit's progress line (producer/progress.c), drawn
 * into a file in place of the terminal: the bar, the counts of each phase,
 * rate and ETA, pages, the redraw limit, erasing, and silence when it is off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "progress.h"

/* stderr goes to a temporary file while a test runs. */
struct fixture {
    struct progress p;
    FILE *out;
    int saved_stderr;
    char text[1024]; /* what was drawn since the last drawn() */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->out = tmpfile();
    f->saved_stderr = dup(STDERR_FILENO);
    if (!f->out || f->saved_stderr < 0 || dup2(fileno(f->out), STDERR_FILENO) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    dup2(f->saved_stderr, STDERR_FILENO);
    close(f->saved_stderr);
    fclose(f->out);
    free(f);
    return 0;
}

/* What was written to stderr since the last call. */
static const char *drawn(struct fixture *f)
{
    size_t n = (size_t)pread(fileno(f->out), f->text, sizeof f->text - 1, 0);
    f->text[n < sizeof f->text ? n : 0] = '\0';
    assert_int_equal(ftruncate(fileno(f->out), 0), 0);
    assert_int_equal(lseek(fileno(f->out), 0, SEEK_SET), 0); /* stderr shares the offset */
    return f->text;
}

/* An enabled line of total inputs whose phase began `ago` seconds ago. */
static void start(struct fixture *f, size_t total, double ago)
{
    progress_init(&f->p, 1, total); /* stderr is no TTY here: off */
    f->p.enabled = 1;
    f->p.t_start = progress_now() - ago;
}

static void off_unless_a_tty(void **state)
{
    struct fixture *f = *state;
    progress_init(&f->p, 1, 10);
    assert_false(f->p.enabled); /* stderr is a file */
    progress_update(&f->p, 5, 0, 0);
    progress_clear(&f->p);
    assert_string_equal(drawn(f), "");
    assert_int_equal(f->p.submitted, 5); /* counts kept all the same */
    progress_init(&f->p, 0, 10);
    assert_false(f->p.enabled);
}

static void submitting(void **state)
{
    struct fixture *f = *state;
    start(f, 100, 10.0);
    progress_update(&f->p, 48, 0, 2); /* 50 dealt with in 10 s: 5/s, 10 s left */
    assert_string_equal(drawn(f), "\r[##########..........] 48/100 submitted  0 done  2 failed  "
                                  "5/s  ETA 0:10\033[K");
}

static void bar_full_only_when_all_are(void **state)
{
    struct fixture *f = *state;
    start(f, 1000, 100.0);
    progress_update(&f->p, 999, 0, 0);
    assert_non_null(strstr(drawn(f), "[###################.] 999/1000"));
    f->p.t_drawn = 0;
    progress_update(&f->p, 1000, 0, 0); /* all: no ETA */
    assert_string_equal(drawn(f), "\r[####################] 1000/1000 submitted  0 done  0 failed  "
                                  "10/s\033[K");
}

static void eta_in_hours(void **state)
{
    struct fixture *f = *state;
    start(f, 1000, 10.0);
    progress_update(&f->p, 1, 0, 0); /* 0.1/s: 999 left take 9990 s */
    assert_non_null(strstr(drawn(f), "0/s  ETA 2:46:30\033[K"));
}

static void waiting_counts_finished_jobs(void **state)
{
    struct fixture *f = *state;
    start(f, 10, 0);
    progress_update(&f->p, 10, 0, 0);
    drawn(f);
    progress_start_wait(&f->p);
    f->p.t_start -= 4.0;
    f->p.t_drawn = 0;
    progress_update(&f->p, 10, 3, 1); /* 4 finished in 4 s: 1/s, 6 left */
    assert_string_equal(drawn(f), "\r[########............] 10/10 submitted  3 done  1 failed  "
                                  "1/s  ETA 0:06\033[K");
}

static void pages_once_known(void **state)
{
    struct fixture *f = *state;
    start(f, 2, 0);
    progress_start_wait(&f->p);
    f->p.t_start -= 10.0;
    progress_pages(&f->p, 0, 0); /* not known yet: no pages shown */
    progress_update(&f->p, 2, 0, 0);
    assert_null(strstr(drawn(f), "pages"));
    progress_pages(&f->p, 10, 120);
    f->p.t_pages -= 10.0;           /* 10 pages known done when first seen, 10 s ago */
    progress_pages(&f->p, 16, 120); /* 6 more in 10 s: 0.6 pages/s, 104 left */
    f->p.t_drawn = 0;
    progress_update(&f->p, 2, 1, 0);
    assert_string_equal(drawn(f), "\r[##########..........] 2/2 submitted  1 done  0 failed  "
                                  "16/120 pages  0.6 pages/s  0/s  ETA 2:53\033[K");
}

static void redraws_at_most_hz(void **state)
{
    struct fixture *f = *state;
    start(f, 10, 1.0);
    progress_update(&f->p, 1, 0, 0);
    assert_string_not_equal(drawn(f), "");
    progress_update(&f->p, 2, 0, 0); /* at once: not drawn, counted */
    assert_string_equal(drawn(f), "");
    assert_int_equal(f->p.submitted, 2);
    f->p.t_drawn -= 1.0 / PROGRESS_HZ;
    progress_update(&f->p, 3, 0, 0);
    assert_non_null(strstr(drawn(f), " 3/10 submitted"));
}

static void clear_erases_once(void **state)
{
    struct fixture *f = *state;
    start(f, 10, 1.0);
    progress_clear(&f->p); /* nothing shown: nothing to erase */
    assert_string_equal(drawn(f), "");
    progress_update(&f->p, 1, 0, 0);
    drawn(f);
    progress_clear(&f->p);
    assert_string_equal(drawn(f), "\r\033[K");
    progress_clear(&f->p);
    assert_string_equal(drawn(f), "");
    progress_update(&f->p, 2, 0, 0); /* comes back at once after an erase */
    assert_non_null(strstr(drawn(f), " 2/10 submitted"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(off_unless_a_tty, setup, teardown),
        cmocka_unit_test_setup_teardown(submitting, setup, teardown),
        cmocka_unit_test_setup_teardown(bar_full_only_when_all_are, setup, teardown),
        cmocka_unit_test_setup_teardown(eta_in_hours, setup, teardown),
        cmocka_unit_test_setup_teardown(waiting_counts_finished_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(pages_once_known, setup, teardown),
        cmocka_unit_test_setup_teardown(redraws_at_most_hz, setup, teardown),
        cmocka_unit_test_setup_teardown(clear_erases_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
