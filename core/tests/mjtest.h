/* mjtest.h — the tiny harness behind core/tests/test_*.c (one executable per file, run by ctest).
 *
 *   #include "mjtest.h"
 *   MJ_TEST(parses_sizes) { CHECK_EQ_INT(parse("1K"), 1024); CHECK_STREQ(name(), "x"); }
 *
 * A failed CHECK prints file:line and ends the current test (the others still run).  MJ_SKIP(why)
 * ends it as skipped.  The generated main() runs every test, or only those named on the command
 * line, prints one line per test and closes with "N passed, N failed" (", N skipped" when any).
 * Exit status: 0 all passed, 1 any failed, 77 (ctest's skip code here) when every test skipped.
 * Include it from exactly one file per executable: it defines main().
 */
#ifndef MJTEST_H
#define MJTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MJT_MAX_TESTS 1024

typedef void (*mjt_fn_t)(void);

static struct {
    const char *name;
    mjt_fn_t fn;
} mjt_tests[MJT_MAX_TESTS];
static int mjt_count;
static int mjt_failed_now;
static int mjt_skipped_now;

static void mjt_register(const char *name, mjt_fn_t fn)
{
    if (mjt_count == MJT_MAX_TESTS) {
        fprintf(stderr, "mjtest: too many tests (raise MJT_MAX_TESTS)\n");
        exit(2);
    }
    mjt_tests[mjt_count].name = name;
    mjt_tests[mjt_count].fn = fn;
    mjt_count++;
}

#define MJ_TEST(name)                                                                              \
    static void mjt_test_##name(void);                                                             \
    __attribute__((constructor)) static void mjt_register_##name(void)                             \
    {                                                                                              \
        mjt_register(#name, mjt_test_##name);                                                      \
    }                                                                                              \
    static void mjt_test_##name(void)

/* Ends the current test as failed with a printf-style explanation. */
#define MJT_FAIL(...)                                                                              \
    do {                                                                                           \
        mjt_failed_now = 1;                                                                        \
        fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__);                                        \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        return;                                                                                    \
    } while (0)

#define MJ_SKIP(reason)                                                                            \
    do {                                                                                           \
        mjt_skipped_now = 1;                                                                       \
        fprintf(stderr, "    skipped: %s\n", (reason));                                            \
        return;                                                                                    \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            MJT_FAIL("CHECK(%s) failed", #cond);                                                   \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long mjt_a_ = (long long)(a), mjt_b_ = (long long)(b);                                \
        if (mjt_a_ != mjt_b_)                                                                      \
            MJT_FAIL("CHECK_EQ_INT(%s, %s): %lld != %lld", #a, #b, mjt_a_, mjt_b_);                \
    } while (0)

#define CHECK_STREQ(a, b)                                                                          \
    do {                                                                                           \
        const char *mjt_sa_ = (a), *mjt_sb_ = (b);                                                 \
        if (mjt_sa_ == NULL || mjt_sb_ == NULL ? mjt_sa_ != mjt_sb_ : strcmp(mjt_sa_, mjt_sb_) != 0) \
            MJT_FAIL("CHECK_STREQ(%s, %s): \"%s\" != \"%s\"", #a, #b,                              \
                     mjt_sa_ ? mjt_sa_ : "(null)", mjt_sb_ ? mjt_sb_ : "(null)");                  \
    } while (0)

static int mjt_selected(int argc, char **argv, const char *name)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, skipped = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < mjt_count; i++) {
        if (!mjt_selected(argc, argv, mjt_tests[i].name))
            continue;
        mjt_failed_now = mjt_skipped_now = 0;
        mjt_tests[i].fn();
        fflush(stderr);
        if (mjt_failed_now) {
            failed++;
            printf("FAIL %s\n", mjt_tests[i].name);
        } else if (mjt_skipped_now) {
            skipped++;
            printf("skip %s\n", mjt_tests[i].name);
        } else {
            passed++;
            printf("ok   %s\n", mjt_tests[i].name);
        }
    }
    if (skipped)
        printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    else
        printf("%d passed, %d failed\n", passed, failed);
    if (failed)
        return 1;
    return passed == 0 && skipped > 0 ? 77 : 0;
}

#endif
