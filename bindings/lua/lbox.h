/* lbox.h — the handle box of the Lua binding: a to-be-closed userdata that owns what one C
 * function acquires from libmoonjail (not installed, not public).
 *
 * The box is created before anything it will own, so whatever it holds is freed when the C
 * function returns or raises: a C function never raises (a memory error while it pushes the
 * answer, say) holding memory that only the box would free.
 */
#ifndef MOONJAIL_LBOX_H
#define MOONJAIL_LBOX_H

#include <lua.h>

#include "moonjail/moonjail.h"

#define MJL_BOX_MT "moonjail.box"

typedef struct {
    mj_config_t *cfg;
    mj_command_t *cmd;
    mj_result_t *res;
    mj_error_t *err;
    void *mem;            /* one malloc'd block (a read file, a report array): free() */
    char **names;         /* n_names strings and the array: mj_strings_free() */
    size_t n_names;
    mj_file_info_t *files; /* n_files infos and the array: mj_file_infos_free() */
    size_t n_files;
    mj_file_info_t file;  /* one info filled in place: mj_file_info_clear() */
    mj_proc_entry_t *procs; /* n_procs entries and the array: mj_proc_entries_free() */
    size_t n_procs;
    mj_check_t *checks;   /* n_checks checks and the array: mj_checks_free() */
    size_t n_checks;
} mjl_box_t;

/* Pushes a new empty box and marks its stack slot to-be-closed. */
mjl_box_t *mjl_new_box(lua_State *L);

/* Creates the box metatable (idempotent); before any mjl_new_box. */
void mjl_box_register(lua_State *L);

#endif
