/* test_error.c — the error model: codes, the reference's message texts, wrapping, retryable. */
#include <errno.h>
#include <moonjail/moonjail.h>
#include <string.h>

#include "mjtest.h"

MJ_TEST(base_text_without_detail)
{
    mj_error_t *e = mj_error_new(MJ_ERR_SANDBOX_NOT_FOUND, 0, NULL);
    CHECK_STREQ(mj_error_message(e), "Sandbox not found");
    CHECK(!mj_error_retryable(e));
    mj_error_free(e);
}

MJ_TEST(detail_appended_like_the_reference)
{
    mj_error_t *e = mj_error_new(MJ_ERR_RESOURCE_LIMIT_EXCEEDED, 0, "Memory limit of %s exceeded", "1GB");
    CHECK_STREQ(mj_error_message(e), "Resource limit exceeded: Memory limit of 1GB exceeded");
    CHECK_EQ_INT(mj_error_code(e), MJ_ERR_RESOURCE_LIMIT_EXCEEDED);
    mj_error_free(e);
}

MJ_TEST(literal_message_and_retryable)
{
    mj_error_t *e = mj_error_new_literal(MJ_ERR_TEMPORARY_FAILURE, "Temporary network failure", true);
    CHECK_STREQ(mj_error_message(e), "Temporary network failure");
    CHECK(mj_error_retryable(e));
    mj_error_free(e);
}

MJ_TEST(retryable_follows_errno)
{
    mj_error_t *a = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, EAGAIN, "x");
    mj_error_t *b = mj_error_new(MJ_ERR_SANDBOX_INIT_FAILED, ENOENT, "x");
    CHECK(mj_error_retryable(a));
    CHECK(!mj_error_retryable(b));
    CHECK_EQ_INT(mj_error_errno(a), EAGAIN);
    mj_error_free(a);
    mj_error_free(b);
}

MJ_TEST(wrap_keeps_code_and_cause)
{
    mj_error_t *e = mj_error_new(MJ_ERR_FILE_OPERATION_FAILED, EIO, "read failed");
    mj_error_wrap(&e, "copying %s", "/src/a");
    CHECK_STREQ(mj_error_message(e), "File operation failed: copying /src/a: read failed");
    CHECK_EQ_INT(mj_error_code(e), MJ_ERR_FILE_OPERATION_FAILED);
    CHECK_EQ_INT(mj_error_errno(e), EIO);
    CHECK(mj_error_cause(e) != NULL);
    CHECK_STREQ(mj_error_message(mj_error_cause(e)), "File operation failed: read failed");
    mj_error_free(e);
}

MJ_TEST(every_code_has_a_name_and_text)
{
    for (int c = 1; c < MJ_ERR__COUNT; c++) {
        const char *name = mj_error_code_name((mj_error_code_t)c);
        CHECK(name != NULL);
        CHECK(mj_error_code_text((mj_error_code_t)c) != NULL);
        CHECK_EQ_INT(mj_error_code_from_name(name), c);
    }
    CHECK(mj_error_code_name(MJ_ERR__COUNT) == NULL);
    CHECK_EQ_INT(mj_error_code_from_name("NOPE"), MJ_OK);
}

MJ_TEST(null_safe)
{
    mj_error_wrap(NULL, "x");
    mj_error_t *none = NULL;
    mj_error_wrap(&none, "x");
    CHECK(none == NULL);
    mj_error_free(NULL);
    CHECK_EQ_INT(mj_error_code(NULL), MJ_OK);
}
