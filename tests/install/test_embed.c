/* test_embed.c -- installs act into a temporary prefix and builds
   examples/embed against it, once through the CMake package (act::act) and
   once through pkg-config, then runs both: an application's view. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *prefix;

static int setup(void **state)
{
    (void)state;
    prefix = ts_tmpdir();
    char cmd[2048], *err;
    snprintf(cmd, sizeof cmd, "cmake --install '%s' --prefix '%s'", ACT_BINARY_DIR, prefix);
    if (ts_run(cmd, NULL, &err))
        fail_msg("install failed: %s", err);
    free(err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_rmtree(prefix);
    free(prefix);
    return 0;
}

static void expect_learnt_xor(const char *exe)
{
    char cmd[2048], *out, *err;
    snprintf(cmd, sizeof cmd, "LD_LIBRARY_PATH='%s/lib' '%s' '%s/examples/xor.act'", prefix, exe,
             ACT_SOURCE_DIR);
    int rc = ts_run(cmd, &out, &err);
    if (rc || !strstr(out, "xor(0, 1) = 0.9") || !strstr(out, "xor(1, 1) = 0.0"))
        fail_msg("exit %d\n%s\n%s", rc, out, err);
    free(out);
    free(err);
}

static void test_embed_builds_against_the_cmake_package(void **state)
{
    (void)state;
    char cmd[4096], *err;
    snprintf(cmd, sizeof cmd,
             "cmake -S '%s/examples/embed' -B '%s/b' -DCMAKE_PREFIX_PATH='%s' "
             "-DCMAKE_C_FLAGS='%s' && cmake --build '%s/b'",
             ACT_SOURCE_DIR, prefix, prefix, ACT_SANITIZE_FLAGS, prefix);
    if (ts_run(cmd, NULL, &err))
        fail_msg("%s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "%s/b/embed", prefix);
    expect_learnt_xor(cmd);
}

static void test_embed_builds_with_pkg_config(void **state)
{
    (void)state;
    char cmd[4096], *err;
    snprintf(cmd, sizeof cmd,
             "PKG_CONFIG_PATH='%s/lib/pkgconfig' && export PKG_CONFIG_PATH && "
             "cc -std=c11 %s '%s/examples/embed/main.c' -o '%s/embed-pc' "
             "$(pkg-config --cflags --libs act)",
             prefix, ACT_SANITIZE_FLAGS, ACT_SOURCE_DIR, prefix);
    if (ts_run(cmd, NULL, &err))
        fail_msg("%s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "%s/embed-pc", prefix);
    expect_learnt_xor(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embed_builds_against_the_cmake_package),
        cmocka_unit_test(test_embed_builds_with_pkg_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
