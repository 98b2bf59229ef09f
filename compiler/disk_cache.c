/* disk_cache.c -- compiled entry points kept on disk between processes, in
   the folder named by the environment variable ACT_CACHE_DIR (off when it is
   unset or empty). A file holds one entry's object code with its whole key:
   the canonical module text, graph and mode, plus LLVM's version, the
   target's triple, CPU and features and the identity of the act library
   itself, so code from another act build, LLVM or CPU is never loaded. The
   file name is a 128-bit hash of that key and the full key is compared on
   load, so a hash collision is a miss; a check of the object's bytes
   follows it, so a damaged object is a miss too, never run. Files are
   written whole (a temporary file renamed over), and every failure is a
   miss: the cache can only make compiling faster, never fail it. The
   folder is trusted like a library path: its files are executed. */
#define _GNU_SOURCE /* dladdr */
#include "cc.h"

#include <dlfcn.h>
#include <errno.h>
#include <llvm/Config/llvm-config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char MAGIC[16] = "act-cache 2\n\0\0\0";

/* A hash of n bytes from seed, eight at a time: each step is a bijection
   of the state for a given word, so a file that differs from the one
   written in a single word always fails its check. ~6 us for a 30 KB
   object. It names the files too, from two seeds. */
static uint64_t hash_of(const char *p, size_t n, uint64_t seed)
{
    uint64_t h = seed ^ n, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 32;
    }
    for (; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * UINT64_C(0x100000001b3);
    return h;
}

enum { CHECK_SEED = 0x243f6a88 }; /* of the object's check; the name's are others */

/* This library's file and its size and time: a rebuilt act is another act. */
static void library_identity(char *out, size_t size)
{
    Dl_info info;
    struct stat st;
    if (dladdr((void *)cc_disk_key, &info) && info.dli_fname && !stat(info.dli_fname, &st))
        snprintf(out, size, "%s %lld %lld", info.dli_fname, (long long)st.st_size,
                 (long long)st.st_mtime);
    else
        snprintf(out, size, "unknown build");
}

char *cc_disk_key(const char *key, const cc_target *t, char name[40])
{
    char lib[1200];
    library_identity(lib, sizeof lib);
    size_t n =
        strlen(key) + strlen(t->triple) + strlen(t->cpu) + strlen(t->features) + strlen(lib) + 128;
    char *full = malloc(n);
    if (!full)
        return NULL;
    snprintf(full, n, "%s# act %s, %s, LLVM %s, %s %s %s\n", key, ACT_VERSION_STRING, lib,
             LLVM_VERSION_STRING, t->triple, t->cpu, t->features);
    /* two seeds: 128 bits of name */
    size_t len = strlen(full);
    snprintf(name, 40, "act_%016llx%016llx",
             (unsigned long long)hash_of(full, len, UINT64_C(0xcbf29ce484222325)),
             (unsigned long long)hash_of(full, len, UINT64_C(0x9e3779b97f4a7c15)));
    return full;
}

static const char *cache_dir(void)
{
    const char *d = getenv("ACT_CACHE_DIR");
    return d && *d ? d : NULL;
}

static int path_of(char *path, size_t size, const char *dir, const char *name, const char *suffix)
{
    int n = snprintf(path, size, "%s/%s%s", dir, name, suffix);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

char *cc_disk_load(const char *full_key, const char *name, size_t *size)
{
    const char *dir = cache_dir();
    char path[4096];
    if (!dir || path_of(path, sizeof path, dir, name, ".o"))
        return NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char magic[sizeof MAGIC];
    uint64_t nkey = 0, nobj = 0, check = 0;
    size_t want = strlen(full_key);
    char *key = NULL, *obj = NULL;
    bool ok = fread(magic, sizeof magic, 1, f) == 1 && !memcmp(magic, MAGIC, sizeof magic) &&
              fread(&nkey, sizeof nkey, 1, f) == 1 && nkey == want && (key = malloc(want + 1)) &&
              fread(key, 1, want, f) == want && !memcmp(key, full_key, want) &&
              fread(&nobj, sizeof nobj, 1, f) == 1 && nobj > 0 && nobj < (UINT64_C(1) << 32) &&
              (obj = malloc((size_t)nobj)) && fread(obj, 1, (size_t)nobj, f) == nobj &&
              fread(&check, sizeof check, 1, f) == 1 &&
              check == hash_of(obj, (size_t)nobj, CHECK_SEED) && fgetc(f) == EOF;
    fclose(f);
    free(key);
    if (!ok) {
        free(obj);
        return NULL;
    }
    *size = (size_t)nobj;
    return obj;
}

void cc_disk_store(const char *full_key, const char *name, const char *obj, size_t size)
{
    const char *dir = cache_dir();
    char path[4096], tmp[4200];
    if (!dir || path_of(path, sizeof path, dir, name, ".o"))
        return;
    if (mkdir(dir, 0700) && errno != EEXIST)
        return;
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return;
    uint64_t nkey = strlen(full_key), nobj = size, check = hash_of(obj, size, CHECK_SEED);
    bool ok = fwrite(MAGIC, sizeof MAGIC, 1, f) == 1 && fwrite(&nkey, sizeof nkey, 1, f) == 1 &&
              fwrite(full_key, 1, nkey, f) == nkey && fwrite(&nobj, sizeof nobj, 1, f) == 1 &&
              fwrite(obj, 1, size, f) == size && fwrite(&check, sizeof check, 1, f) == 1;
    ok = !fclose(f) && ok;
    if (!ok || rename(tmp, path))
        remove(tmp);
}
