/* lresult.c — libmoonjail results and reports → Lua tables (see lresult.h).
 *
 * Owns: the Lua shape of Result, ResourceUsage, the info, process and denial lists of a sandbox,
 * and FileInfo, as docs/lua-api.md gives them.
 * Must never: free what it converts (the caller owns it), or read a fixed-size char array of a
 * public struct past its end: those are pushed with their length bounded.
 */
#include <string.h>

#include <lua.h>

#include "lresult.h"
#include "lutil.h"

/* t[field] = the string in the char array s of size max (or up to its first NUL). */
static void set_lstring(lua_State *L, const char *field, const char *s, size_t len)
{
    lua_pushlstring(L, s ? s : "", s ? len : 0);
    lua_setfield(L, -2, field);
}

static void push_denial(lua_State *L, const mj_denial_t *d)
{
    lua_createtable(L, 0, 3);
    if (d->syscall)
        mjl_set_str(L, "syscall", d->syscall);
    else
        lua_pushfstring(L, "%d", d->nr), lua_setfield(L, -2, "syscall"); /* a number libseccomp cannot name */
    mjl_set_int(L, "nr", d->nr);
    mjl_set_int(L, "pid", d->pid);
}

void mjl_push_result(lua_State *L, const mj_result_t *r)
{
    size_t len;
    const char *s;
    lua_createtable(L, 0, 16);
    mjl_set_int(L, "exit_code", mj_result_exit_code(r));
    mjl_set_bool(L, "success", mj_result_success(r));
    mjl_set_int(L, "signal", mj_result_signal(r));
    s = mj_result_stdout(r, &len);
    set_lstring(L, "stdout", s, len);
    s = mj_result_stderr(r, &len);
    set_lstring(L, "stderr", s, len);
    s = mj_result_combined(r, &len);
    set_lstring(L, "combined", s, len);
    mjl_set_num(L, "start_time", mj_result_start_time(r));
    mjl_set_num(L, "end_time", mj_result_end_time(r));
    mjl_set_num(L, "duration", mj_result_duration(r));
    const char *ended_by = mj_end_reason_name(mj_result_ended_by(r));
    lua_pushstring(L, ended_by ? ended_by : "exit");
    lua_setfield(L, -2, "ended_by");
    mjl_set_int(L, "process_id", (lua_Integer)mj_result_pid(r));
    mjl_set_bool(L, "output_truncated", mj_result_output_truncated(r));

    size_t nwarn = mj_result_warning_count(r);
    lua_createtable(L, (int)nwarn, 0);
    for (size_t i = 0; i < nwarn; i++) {
        const char *w = mj_result_warning(r, i);
        lua_pushstring(L, w ? w : "");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "warnings");

    if (mj_result_denials_total(r) > 0) { /* one-shot runs with seccomp logging */
        size_t nd = mj_result_denial_count(r);
        lua_createtable(L, (int)nd, 0);
        for (size_t i = 0; i < nd; i++) {
            push_denial(L, mj_result_denial(r, i));
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, "denials");
        mjl_set_int(L, "denials_total", mjl_clamp_u64(mj_result_denials_total(r)));
    }

    lua_createtable(L, 0, 2);
    mjl_set_num(L, "cpu_time", mj_result_cpu_time(r));
    mjl_set_int(L, "memory_peak", mjl_clamp_u64(mj_result_memory_peak(r)));
    if (mj_result_cpu_periods(r) > 0) { /* under a CPU limit: the kernel's CFS quota accounting */
        mjl_set_int(L, "cpu_periods", mjl_clamp_u64(mj_result_cpu_periods(r)));
        mjl_set_int(L, "cpu_throttled_periods", mjl_clamp_u64(mj_result_cpu_throttled(r)));
    }
    lua_setfield(L, -2, "resource_usage");
}

void mjl_push_usage(lua_State *L, const mj_usage_t *u)
{
    lua_createtable(L, 0, 15);
    mjl_set_num(L, "timestamp", u->timestamp);
    mjl_set_num(L, "cpu_usage", u->cpu_percent);
    mjl_set_num(L, "cpu_time", u->cpu_time);
    mjl_set_int(L, "memory_usage", mjl_clamp_u64(u->memory_usage));
    mjl_set_num(L, "memory_percent", u->memory_percent);
    mjl_set_int(L, "memory_peak", mjl_clamp_u64(u->memory_peak));
    mjl_set_int(L, "disk_usage", mjl_clamp_u64(u->disk_usage));
    mjl_set_int(L, "disk_reads", mjl_clamp_u64(u->disk_reads));
    mjl_set_int(L, "disk_writes", mjl_clamp_u64(u->disk_writes));
    mjl_set_int(L, "block_read_bytes", mjl_clamp_u64(u->block_read_bytes));
    mjl_set_int(L, "block_write_bytes", mjl_clamp_u64(u->block_write_bytes));
    if (u->block_io_from_cgroup) {
        mjl_set_int(L, "block_read_ops", mjl_clamp_u64(u->block_read_ops));
        mjl_set_int(L, "block_write_ops", mjl_clamp_u64(u->block_write_ops));
    }
    mjl_set_int(L, "network_in", mjl_clamp_u64(u->network_in));
    mjl_set_int(L, "network_out", mjl_clamp_u64(u->network_out));
    mjl_set_int(L, "process_count", u->process_count);
    mjl_set_int(L, "thread_count", u->thread_count);
    mjl_set_int(L, "file_handles", u->file_handles);
    mjl_set_num(L, "uptime", u->uptime);
}

void mjl_push_info(lua_State *L, const mj_sandbox_t *sb, const mj_sandbox_info_t *info)
{
    const char *status = mj_status_name(info->status);
    lua_createtable(L, 0, 10);
    mjl_set_str(L, "id", info->id);
    if (info->name && info->name[0] != '\0')
        mjl_set_str(L, "name", info->name);
    mjl_set_str(L, "status", status ? status : "failed");
    mjl_set_num(L, "created_at", info->created_at);
    mjl_set_num(L, "started_at", info->started_at);
    mjl_set_str(L, "hostname", info->hostname ? info->hostname : "");
    mjl_set_int(L, "supervisor_pid", info->supervisor_pid);
    mjl_set_int(L, "uid", info->uid);
    mjl_set_int(L, "gid", info->gid);
    mjl_set_bool(L, "rootless", info->rootless);
    if (info->network)
        mjl_set_str(L, "network", info->network);
    if (info->ip && info->ip[0])
        mjl_set_str(L, "ip_address", info->ip);
    mjl_set_bool(L, "responding", info->responding);
    if (info->ended_by)
        mjl_set_str(L, "ended_by", info->ended_by);
    /* what the engine could not apply when it started this sandbox (this process's handle) */
    size_t nw = mj_sandbox_warning_count(sb);
    lua_createtable(L, (int)nw, 0);
    for (size_t i = 0; i < nw; i++) {
        lua_pushstring(L, mj_sandbox_warning(sb, i));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "warnings");
}

void mjl_push_processes(lua_State *L, const mj_proc_entry_t *v, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 7);
        mjl_set_int(L, "pid", v[i].pid);
        mjl_set_int(L, "ppid", v[i].ppid);
        mjl_set_int(L, "uid", v[i].uid);
        char state[2] = {v[i].state ? v[i].state : '?', '\0'};
        mjl_set_str(L, "state", state);
        mjl_set_num(L, "cpu_time", v[i].cpu_time);
        mjl_set_int(L, "rss", mjl_clamp_u64(v[i].rss));
        mjl_set_str(L, "command", v[i].command ? v[i].command : "");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

void mjl_push_denials(lua_State *L, const mj_denial_t *v, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        push_denial(L, &v[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

void mjl_push_strings(lua_State *L, char *const *v, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, v[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

void mjl_push_file_info(lua_State *L, const mj_file_info_t *f)
{
    lua_createtable(L, 0, 10);
    mjl_set_str(L, "name", f->name);
    mjl_set_str(L, "path", f->path);
    mjl_set_int(L, "size", mjl_clamp_u64(f->size));
    mjl_set_int(L, "mode", f->mode & 07777); /* permission bits, as the reference's Mode: 0644 */
    mjl_set_num(L, "mod_time", f->mod_time);
    mjl_set_bool(L, "is_dir", f->is_dir);
    mjl_set_bool(L, "is_link", f->is_link);
    mjl_set_str(L, "owner", f->owner ? f->owner : "");
    mjl_set_str(L, "group", f->group ? f->group : "");
    mjl_set_str(L, "permissions", f->permissions ? f->permissions : "");
}

void mjl_push_file_infos(lua_State *L, const mj_file_info_t *v, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        mjl_push_file_info(L, &v[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}
