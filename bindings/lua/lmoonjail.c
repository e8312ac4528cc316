/* lmoonjail.c — the `moonjail` Lua 5.4 module: luaopen_moonjail.
 *
 * Owns: the registration only.  It builds the table `core` of C primitives from the facilities
 * below it (errors, the one-shot run, Sandbox and Process, host file trees, the POSIX helpers,
 * what moonjail says about itself), with every metatable, before any Lua runs, and hands it to
 * scripts/moonjail/api.lua, which turns it into the public module.
 * Must never: set globals, hold a primitive of its own, or be called by the files it registers:
 * it stands above all of them (docs/lua-api.md, "The core.run contract", lists the primitives).
 *
 * The layers of bindings/lua, bottom to top; a file calls only files of a lower layer:
 *   embedded_data (generated), lbox.c, lerror.c, lbudget.c, largs.c
 *   < embedded.c, lopts.c, lresult.c, lhandle.c, lmatch.c
 *   < lprocess.c, lrun.c, lposix.c, ltree.c, limage.c, lisolate.c
 *   < lsandbox.c, linfo.c, limagestore.c, limagelayer.c < lmoonjail.c  (docs/architecture.md holds the list)
 * (lutil.h holds inline helpers only; main.c, the executable, stands on lmoonjail.c.)
 */
#include <lauxlib.h>
#include <lua.h>

#include "embedded.h"
#include "lbox.h"
#include "lbudget.h"
#include "lerror.h"
#include "linfo.h"
#include "limage.h"
#include "lisolate.h"
#include "lmoonjail.h"
#include "lposix.h"
#include "lprocess.h"
#include "lrun.h"
#include "lsandbox.h"
#include "ltree.h"

int luaopen_moonjail(lua_State *L)
{
    mjl_install_searcher(L); /* idempotent */
    mjl_budget_install(L);   /* the counting allocator untrusted code runs under; idempotent */

    lua_newtable(L); /* core */
    mjl_box_register(L);
    mjl_error_register(L);   /* core.error, core.codes, core.error_mt */
    mjl_run_register(L);     /* core.run */
    mjl_process_register(L); /* the Process type: core.process_ops, core.process_methods */
    mjl_sandbox_register(L); /* the Sandbox type, core.sandbox, core.open, core.list */
    mjl_tree_register(L);    /* core.fetch, core.unpack, core.walk, … (repositories) */
    mjl_posix_register(L);   /* core.path_kind, core.mkdir_private, core.sleep, … */
    mjl_info_register(L);    /* core.version, core.doctor, core.policy_source, … */
    mjl_image_register(L);   /* core.image = package.loaded["moonjail.imagecore"] (limage.c) */
    mjl_image_store_register(L); /* core.image.store, the Store and Lease types (limagestore.c) */
    mjl_image_layer_register(L); /* the Store's unpack_layers and layer_path (limagelayer.c) */
    mjl_isolate_register(L); /* core.eval_data, core.limited, core.plain, core.string_lib */

    lua_getglobal(L, "require");
    lua_pushliteral(L, "moonjail.api");
    lua_call(L, 1, 1);
    if (!lua_isfunction(L, -1))
        return luaL_error(L, "moonjail: module 'moonjail.api' must return a function");
    lua_insert(L, -2);
    lua_call(L, 1, 1); /* api(core) -> the module */

    return 1;
}
