/* team.c -- the worker threads of a program: made once, handed one job at a
   time. A worker that finished a job spins for a few tens of microseconds
   before it sleeps, so that the next step of a training loop finds it awake
   (waking a sleeping thread costs a futex call and a few microseconds of the
   scheduler's time). POSIX threads rather than C11's: ThreadSanitizer
   (gcc 12) does not see glibc's thrd_create and mtx_lock. */
#include "rt.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

enum { SPINS = 2000 }; /* pause instructions, about 40 microseconds on a Zen 4 */

typedef struct {
    rt_team *team;
    pthread_t thread;
    int index; /* the job index it runs: 1 to n - 1 */
} worker;

struct rt_team {
    pthread_mutex_t lock; /* with wake and done, for sleeping; the job itself is in atomics */
    pthread_cond_t wake, done;
    atomic_uint gen;    /* incremented (under lock) for each job and for stopping */
    atomic_int pending; /* workers that have not finished the current job */
    atomic_bool stop;
    void (*fn)(void *arg, int i); /* the job: written before gen is released */
    void *arg;
    int n;
    int nworkers;
    worker *w;
    pid_t pid; /* of the process whose threads the workers are */
};

static void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    sched_yield();
#endif
}

/* The generation after seen: spinning first, then asleep. */
static unsigned next_gen(rt_team *t, unsigned seen)
{
    for (int i = 0; i < SPINS; i++) {
        unsigned g = atomic_load_explicit(&t->gen, memory_order_acquire);
        if (g != seen)
            return g;
        relax();
    }
    pthread_mutex_lock(&t->lock);
    unsigned g;
    while ((g = atomic_load_explicit(&t->gen, memory_order_acquire)) == seen)
        pthread_cond_wait(&t->wake, &t->lock);
    pthread_mutex_unlock(&t->lock);
    return g;
}

static void *work(void *arg)
{
    worker *w = arg;
    rt_team *t = w->team;
    unsigned seen = 0;
    for (;;) {
        seen = next_gen(t, seen);
        if (atomic_load_explicit(&t->stop, memory_order_acquire))
            return NULL;
        if (w->index < t->n)
            t->fn(t->arg, w->index);
        /* the last to finish wakes the caller, should it have gone to sleep */
        if (atomic_fetch_sub_explicit(&t->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&t->lock);
            pthread_cond_signal(&t->done);
            pthread_mutex_unlock(&t->lock);
        }
    }
}

/* Starts a generation: a job, or the stop. */
static void publish(rt_team *t)
{
    pthread_mutex_lock(&t->lock);
    atomic_fetch_add_explicit(&t->gen, 1, memory_order_release);
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->lock);
}

static void join(rt_team *t, int started)
{
    atomic_store_explicit(&t->stop, true, memory_order_release);
    publish(t);
    for (int i = 0; i < started; i++)
        pthread_join(t->w[i].thread, NULL);
}

rt_team *rt_team_new(int n)
{
    rt_team *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->nworkers = n > 1 ? n - 1 : 0;
    t->pid = getpid();
    bool locks = !pthread_mutex_init(&t->lock, NULL);
    bool wake = locks && !pthread_cond_init(&t->wake, NULL);
    bool done = wake && !pthread_cond_init(&t->done, NULL);
    t->w = done ? calloc((size_t)t->nworkers + 1, sizeof *t->w) : NULL;
    int started = 0;
    while (t->w && started < t->nworkers) {
        t->w[started] = (worker){.team = t, .index = started + 1};
        if (pthread_create(&t->w[started].thread, NULL, work, &t->w[started]))
            break;
        started++;
    }
    if (t->w && started == t->nworkers)
        return t;
    if (t->w)
        join(t, started);
    free(t->w);
    if (done)
        pthread_cond_destroy(&t->done);
    if (wake)
        pthread_cond_destroy(&t->wake);
    if (locks)
        pthread_mutex_destroy(&t->lock);
    free(t);
    return NULL;
}

bool rt_team_here(const rt_team *t)
{
    return t->pid == getpid();
}

int rt_team_size(const rt_team *t)
{
    return t->nworkers + 1;
}

void rt_team_run(rt_team *t, int n, void (*fn)(void *arg, int i), void *arg)
{
    t->fn = fn;
    t->arg = arg;
    t->n = n;
    atomic_store_explicit(&t->pending, t->nworkers, memory_order_relaxed);
    publish(t);
    fn(arg, 0);
    for (int i = 0; i < SPINS && atomic_load_explicit(&t->pending, memory_order_acquire); i++)
        relax();
    pthread_mutex_lock(&t->lock);
    while (atomic_load_explicit(&t->pending, memory_order_acquire))
        pthread_cond_wait(&t->done, &t->lock);
    pthread_mutex_unlock(&t->lock);
}

void rt_team_free(rt_team *t)
{
    if (!t || !rt_team_here(t)) /* a forked child has none of the workers to join */
        return;
    join(t, t->nworkers);
    free(t->w);
    pthread_cond_destroy(&t->done);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

int64_t rt_part_start(int64_t n, int parts, int i)
{
    int64_t rest = n % parts;
    return (n / parts) * i + (i < rest ? i : rest);
}
