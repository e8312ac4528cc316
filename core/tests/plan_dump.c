/* plan_dump.c — prints the plan that mj_config_new_default() gives for the command in argv
 * (default: true), as `moonjail run --dump-plan -- CMD` prints the CLI's; the spec
 * spec/integration/embed_default_spec.lua compares the two.  Exit 1 with the error when the plan
 * cannot be built. */
#include <moonjail/moonjail.h>
#include <stdio.h>
#include <stdlib.h>

#include "plan.h"
#include "plandump.h"

int main(int argc, char **argv)
{
    static const char *const dflt[] = {"true"};
    mj_config_t *cfg = mj_config_new_default();
    mj_command_t *cmd = mj_command_new();
    mj_error_t *err = NULL;
    mj_plan_t plan;
    int rc = 1;
    if (mj_command_set_argv(cmd, argc > 1 ? (size_t)(argc - 1) : 1, argc > 1 ? (const char *const *)argv + 1 : dflt,
                            &err) == 0 &&
        mj_plan_build(cfg, cmd, &plan, &err) == 0) {
        char *text = mj_plan_dump(&plan);
        fputs(text, stdout);
        free(text);
        mj_plan_free(&plan);
        rc = 0;
    } else {
        fprintf(stderr, "plan_dump: %s\n", err ? mj_error_message(err) : "failed");
    }
    mj_error_free(err);
    mj_command_free(cmd);
    mj_config_free(cfg);
    return rc;
}
