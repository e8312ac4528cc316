/* trace.c — the phase trace (trace.h): a shared page of (phase, time) marks and their printing.
 * Owns: the page, the environment switch MOONJAIL_TRACE=timing.  Never: allocates or calls the
 * kernel in a mark (marks are taken in the sandbox's child after clone), or prints anything while
 * the trace is off. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "trace.h"

#define MARKS 120

struct mark {
    char phase[32];
    uint64_t ns;
    uint32_t done;
};

struct page {
    uint32_t n;       /* marks taken (atomic); more than MARKS are dropped */
    uint32_t printed; /* marks [0, printed) are printed */
    uint64_t t0;      /* monotonic ns at the constructor, then at the last print */
    uint64_t pre_ns;  /* CPU ns of the process before the constructor: exec + dynamic linking */
    struct mark m[MARKS];
};

bool mj_trace_on;
static struct page *page;
static bool held;
static pid_t owner;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((constructor)) static void trace_init(void)
{
    const char *v = getenv("MOONJAIL_TRACE");
    if (!v || !strstr(v, "timing"))
        return;
    /* Shared, so the clones of this process (the sandbox's init and supervisor) mark into it. */
    void *p = mmap(NULL, sizeof(struct page), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    page = p;
    struct timespec cpu;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0)
        page->pre_ns = (uint64_t)cpu.tv_sec * 1000000000u + (uint64_t)cpu.tv_nsec;
    page->t0 = mono_ns();
    owner = getpid();
    mj_trace_on = true;
}

void mj_trace_mark_slow(const char *phase)
{
    uint32_t i = __atomic_fetch_add(&page->n, 1, __ATOMIC_RELAXED);
    if (i >= MARKS)
        return;
    struct mark *m = &page->m[i];
    m->ns = mono_ns();
    size_t k = 0;
    for (; phase[k] && k < sizeof(m->phase) - 1; k++)
        m->phase[k] = phase[k];
    m->phase[k] = '\0';
    __atomic_store_n(&m->done, 1, __ATOMIC_RELEASE);
}

static int by_time(const void *a, const void *b)
{
    const struct mark *x = a, *y = b;
    return x->ns < y->ns ? -1 : x->ns > y->ns;
}

void mj_trace_print(const char *what)
{
    if (!mj_trace_on || getpid() != owner)
        return;
    uint32_t n = __atomic_load_n(&page->n, __ATOMIC_ACQUIRE);
    if (n > MARKS)
        n = MARKS;
    uint32_t from = page->printed;
    if (n <= from)
        return;
    struct mark sorted[MARKS];
    uint32_t k = 0;
    for (uint32_t i = from; i < n; i++)
        if (__atomic_load_n(&page->m[i].done, __ATOMIC_ACQUIRE))
            sorted[k++] = page->m[i];
    qsort(sorted, k, sizeof(sorted[0]), by_time);
    uint64_t prev = page->t0;
    uint64_t sum = 0;
    fprintf(stderr, "moonjail trace: %s (us)\n", what);
    if (from == 0) {
        fprintf(stderr, "  %-24s %8llu\n", "start+ld.so (cpu)", (unsigned long long)(page->pre_ns / 1000));
        sum += page->pre_ns;
    }
    for (uint32_t i = 0; i < k; i++) {
        uint64_t d = sorted[i].ns - prev;
        fprintf(stderr, "  %-24s %8llu\n", sorted[i].phase, (unsigned long long)(d / 1000));
        sum += d;
        prev = sorted[i].ns;
    }
    fprintf(stderr, "  %-24s %8llu\n", "total", (unsigned long long)(sum / 1000));
    page->printed = n;
    page->t0 = mono_ns(); /* the next operation's first phase starts here */
}

void mj_trace_op_end(const char *what)
{
    if (__builtin_expect(mj_trace_on, 0) && !held)
        mj_trace_print(what);
}

void mj_trace_hold(void)
{
    held = true;
}
