/* lresult.h — libmoonjail results and reports → Lua tables (not installed, not public).
 *
 * Every function pushes one new table and borrows what it is given; none frees or raises
 * (but for a memory error while pushing).
 */
#ifndef MOONJAIL_LRESULT_H
#define MOONJAIL_LRESULT_H

#include <stddef.h>

#include <lua.h>

#include "moonjail/moonjail.h"

/* A result: exit_code, success, signal, stdout, stderr, combined, times, ended_by, process_id,
 * output_truncated, warnings, denials, resource_usage (docs/lua-api.md, Result). */
void mjl_push_result(lua_State *L, const mj_result_t *r);
/* A ResourceUsage of a persistent sandbox. */
void mjl_push_usage(lua_State *L, const mj_usage_t *u);
/* The info of sb: id, name, status, times, hostname, supervisor_pid, uid, gid, rootless, and the
 * warnings of this handle (api.lua adds the rest of SandboxInfo). */
void mjl_push_info(lua_State *L, const mj_sandbox_t *sb, const mj_sandbox_info_t *info);
/* An array of { pid, ppid, uid, state, cpu_time, rss, command }. */
void mjl_push_processes(lua_State *L, const mj_proc_entry_t *v, size_t n);
/* An array of { syscall, pid }. */
void mjl_push_denials(lua_State *L, const mj_denial_t *v, size_t n);
/* An array of the n strings in v. */
void mjl_push_strings(lua_State *L, char *const *v, size_t n);
/* A FileInfo { name, path, size, mode, mod_time, is_dir, is_link, owner, group, permissions }. */
void mjl_push_file_info(lua_State *L, const mj_file_info_t *f);
/* An array of FileInfo. */
void mjl_push_file_infos(lua_State *L, const mj_file_info_t *v, size_t n);

#endif
