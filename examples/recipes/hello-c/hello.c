/* hello.c — the small C project that examples/recipes/build-c.lua builds and tests. */
#include <stdio.h>
#include <string.h>

const char *greeting(const char *who)
{
    static char buf[128];
    snprintf(buf, sizeof(buf), "hello, %s", who && *who ? who : "world");
    return buf;
}

#ifndef HELLO_TEST
int main(int argc, char **argv)
{
    puts(greeting(argc > 1 ? argv[1] : NULL));
    return 0;
}
#else
int main(void)
{
    int failed = strcmp(greeting("moonjail"), "hello, moonjail") != 0 || strcmp(greeting(""), "hello, world") != 0;
    puts(failed ? "FAIL greeting" : "ok greeting");
    return failed;
}
#endif
