/* test_team.c -- a program's worker threads (runtime/team.c): every index
   of a job runs exactly once, index 0 on the calling thread, the others on
   other threads; jobs follow one another at once and after the workers have
   gone to sleep; a team smaller than its size runs fewer. */
#include "support.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

typedef struct {
    atomic_int runs[8];
    pthread_t who[8];
    long sum; /* written by index 0 only, read after the job */
} job;

static void count(void *arg, int i)
{
    job *j = arg;
    atomic_fetch_add(&j->runs[i], 1);
    j->who[i] = pthread_self();
    if (i == 0)
        j->sum += 1;
}

static void check_job(rt_team *t, int n)
{
    job j;
    memset(&j, 0, sizeof j);
    rt_team_run(t, n, count, &j);
    for (int i = 0; i < 8; i++)
        assert_int_equal(atomic_load(&j.runs[i]), i < n ? 1 : 0);
    assert_true(pthread_equal(j.who[0], pthread_self()));
    for (int i = 1; i < n; i++)
        assert_false(pthread_equal(j.who[i], pthread_self()));
    assert_int_equal(j.sum, 1);
}

static void test_team_runs_each_index_once(void **state)
{
    (void)state;
    rt_team *t = rt_team_new(4);
    assert_non_null(t);
    assert_int_equal(rt_team_size(t), 4);
    for (int k = 0; k < 200; k++) /* back to back: the workers are spinning */
        check_job(t, 1 + k % 4);
    rt_team_free(t);
}

static void test_team_wakes_sleeping_workers(void **state)
{
    (void)state;
    rt_team *t = rt_team_new(3);
    assert_non_null(t);
    for (int k = 0; k < 3; k++) {
        struct timespec nap = {0, 20 * 1000 * 1000}; /* long past the spinning */
        nanosleep(&nap, NULL);
        check_job(t, 3);
    }
    rt_team_free(t);
}

static void test_team_of_one_is_the_caller(void **state)
{
    (void)state;
    rt_team *t = rt_team_new(1);
    assert_non_null(t);
    assert_int_equal(rt_team_size(t), 1);
    check_job(t, 1);
    rt_team_free(t);
    rt_team_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_team_runs_each_index_once),
        cmocka_unit_test(test_team_wakes_sleeping_workers),
        cmocka_unit_test(test_team_of_one_is_the_caller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
