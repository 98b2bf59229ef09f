/* test_pool.c -- the memory compiled code takes its intermediates from
   (compiler/pool.c): blocks given back are handed out again, small ones
   too; a block much larger than asked for is not; a thread gets back its
   own blocks first. */
#include "compiler/cc.h"
#include "support.h"

#include <pthread.h>

static void test_pool_reuses_small_blocks(void **state)
{
    (void)state;
    cc_pool *p = cc_pool_new();
    assert_non_null(p);
    void *a = cc_pool_take(p, 100);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a % 64, 0);
    cc_pool_give(p, a);
    assert_ptr_equal(cc_pool_take(p, 1000), a); /* a page serves any small request */
    cc_pool_give(p, a);
    assert_ptr_equal(cc_pool_take(p, 4096), a);
    cc_pool_give(p, a);
    cc_pool_free(p);
}

static void test_pool_keeps_large_blocks_for_large_requests(void **state)
{
    (void)state;
    cc_pool *p = cc_pool_new();
    void *big = cc_pool_take(p, 1 << 20);
    cc_pool_give(p, big);
    void *small = cc_pool_take(p, 4096);
    assert_ptr_not_equal(small, big); /* it would waste more than half */
    assert_ptr_equal(cc_pool_take(p, (1 << 20) - 100), big);
    cc_pool_give(p, small);
    cc_pool_give(p, big);
    cc_pool_free(p);
}

typedef struct {
    cc_pool *p;
    void *block;
} give_job;

static void *give_from_thread(void *arg)
{
    give_job *j = arg;
    j->block = cc_pool_take(j->p, 50000);
    cc_pool_give(j->p, j->block);
    return NULL;
}

static void test_pool_prefers_the_callers_blocks(void **state)
{
    (void)state;
    cc_pool *p = cc_pool_new();
    void *mine = cc_pool_take(p, 50000);
    give_job other = {p, NULL};
    pthread_t t;
    cc_pool_give(p, mine);
    /* the other thread takes mine, gives it back, and this thread takes a
       second block of the size, gives it back after the other's */
    assert_int_equal(pthread_create(&t, NULL, give_from_thread, &other), 0);
    pthread_join(t, NULL);
    assert_ptr_equal(other.block, mine);
    void *a = cc_pool_take(p, 50000), *b = cc_pool_take(p, 50000);
    assert_ptr_equal(a, mine);
    cc_pool_give(p, b);
    cc_pool_give(p, a);
    /* both kept, a the more recent: a first again */
    assert_ptr_equal(cc_pool_take(p, 50000), a);
    cc_pool_give(p, a);
    /* the other thread takes the more recent and gives it back: now the
       most recent is the other's, yet this thread gets its own */
    assert_int_equal(pthread_create(&t, NULL, give_from_thread, &other), 0);
    pthread_join(t, NULL);
    assert_ptr_equal(other.block, a);
    assert_ptr_equal(cc_pool_take(p, 50000), b);
    cc_pool_give(p, b);
    cc_pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_reuses_small_blocks),
        cmocka_unit_test(test_pool_keeps_large_blocks_for_large_requests),
        cmocka_unit_test(test_pool_prefers_the_callers_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
