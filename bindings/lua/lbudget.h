/* lbudget.h — budgets for Lua code moonjail does not trust (not installed, not public).
 *
 * An instruction count alone does not bound work done inside one C call (`gsub`, `rep`, a
 * backtracking `find`), so a budget has three parts: memory, through the state's allocator (a
 * counting lua_Alloc that refuses growth past the cap); time, a deadline checked by a count hook
 * between instructions and polled by C code that works long without running instructions (the
 * bounded pattern matcher, lmatch.c); and the instruction count, by the same hook.
 *
 * A limit that ran out trips the budget: from then on the hook raises at every instruction, so a
 * `pcall` in the untrusted code cannot swallow the error and go on.
 */
#ifndef MOONJAIL_LBUDGET_H
#define MOONJAIL_LBUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>

typedef struct mjl_budget mjl_budget_t;

/* What a run may spend; 0 in a field means no limit of that kind. */
typedef struct {
    size_t memory;         /* bytes the state may grow by (a fresh state: may hold) */
    double seconds;        /* wall-clock */
    uint64_t instructions; /* VM instructions, counted in steps of MJL_BUDGET_STEP */
} mjl_limits_t;

#define MJL_BUDGET_STEP 1000

/* The limit that ended a run. */
typedef enum { MJL_OVER_NONE, MJL_OVER_MEMORY, MJL_OVER_TIME, MJL_OVER_INSTRUCTIONS } mjl_over_t;

/* The settings of the run before mjl_budget_begin, restored by mjl_budget_end (runs nest). */
typedef struct {
    bool active;
    size_t cap;
    double deadline;
    uint64_t count, max_count;
    mjl_over_t over;
    bool refused;
    mjl_limits_t limits;
    char where[160];
} mjl_budget_scope_t;

/* Wraps L's allocator in the counting one (idempotent); the original is put back when the state
 * closes.  luaopen_moonjail calls it, so every state the module is loaded into can run budgets. */
void mjl_budget_install(lua_State *L);
/* The budget of L's state, or NULL when its allocator is not the counting one. */
mjl_budget_t *mjl_budget_of(lua_State *L);

/* A new state whose allocator counts from the start (limits.memory then caps what the whole
 * state holds); *out receives its budget, freed by mjl_budget_close.  NULL when out of memory. */
lua_State *mjl_budget_newstate(mjl_budget_t **out);
/* Closes a state made by mjl_budget_newstate and frees its budget. */
void mjl_budget_close(lua_State *S, mjl_budget_t *b);

/* Starts a run under lim (nested in any run already active: the tighter limits hold); the
 * previous settings go to scope.  Then mjl_budget_watch each thread the run starts in. */
void mjl_budget_begin(mjl_budget_t *b, const mjl_limits_t *lim, mjl_budget_scope_t *scope);
/* Sets the budget's hook on thread co (threads it creates inherit it). */
void mjl_budget_watch(lua_State *co);
/* Ends the run and restores the settings in scope; scope then holds the run's own (its limits,
 * what ran out and where).  Returns what ran out: MJL_OVER_NONE when nothing did. */
mjl_over_t mjl_budget_end(mjl_budget_t *b, mjl_budget_scope_t *scope);

/* Pushes onto L the message of a run that ended with status on thread co: "file:line: memory
 * limit exceeded (64 MiB)" when over says a limit ran out, else the error object when it is a
 * string or a number, else "(error object is a T value)" — never calls a metamethod.  Locates
 * ended (mjl_budget_locate) on the way. */
void mjl_budget_push_failure(lua_State *L, lua_State *co, mjl_budget_scope_t *ended);
/* Fills ended->where ("file:line: ") from co's stack when the run did not record it. */
void mjl_budget_locate(mjl_budget_scope_t *ended, lua_State *co);
/* The name of what ran out: "memory", "time", "instructions", or "error". */
const char *mjl_budget_kind(mjl_over_t over);

/* For C code that works long without running Lua instructions: raises the budget's error when a
 * run is active on L's state and its time has run out (or it has tripped already). */
void mjl_budget_poll(lua_State *L);

#endif
