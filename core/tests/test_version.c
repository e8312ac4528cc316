/* test_version.c — the version the library reports is the one its header promises. */
#include <moonjail/moonjail.h>

#include "mjtest.h"

MJ_TEST(version_matches_header)
{
    CHECK_STREQ(mj_version(), MJ_VERSION_STRING);
}

MJ_TEST(version_has_three_parts)
{
    int dots = 0;
    for (const char *p = mj_version(); *p; p++)
        dots += *p == '.';
    CHECK_EQ_INT(dots, 2);
}
