/* loader.c -- opens a plugin library, checks it, lets it register into a
   stage, and publishes the stage to the registry whole, or closes it. */
#include "pl.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct pl_library {
    dev_t dev; /* the file as loaded: the same file under another path is */
    ino_t ino; /* still the same library */
    void *handle;
    pl_library *next;
    char path[]; /* as given */
};

typedef int (*entry_fn)(act_registry *reg);

static const pl_library *find_loaded(const pl_library *l, const struct stat *st)
{
    for (; l; l = l->next)
        if (l->dev == st->st_dev && l->ino == st->st_ino)
            return l;
    return NULL;
}

/* dlopen searches the library path for a name without '/'; a plugin path is
   a file, so "p.so" means ./p.so, the file stat saw. */
static void *open_library(const char *path)
{
    if (strchr(path, '/'))
        return dlopen(path, RTLD_NOW | RTLD_LOCAL);
    size_t len = strlen(path);
    char *local = malloc(len + 3);
    if (!local)
        return NULL;
    memcpy(local, "./", 2);
    memcpy(local + 2, path, len + 1);
    void *h = dlopen(local, RTLD_NOW | RTLD_LOCAL);
    free(local);
    return h;
}

/* The version is checked before any code of the plugin runs: a table of
   another layout would be called wrongly. */
static int check_abi(void *h, const char *path, act_error *err)
{
    const int *abi = dlsym(h, "act_plugin_abi_version");
    if (!abi)
        return act_error_set(err, path, ACT_ERR_PLUGIN,
                             "expected the symbol act_plugin_abi_version (write ACT_PLUGIN_ABI; "
                             "in the plugin), found none");
    if (*abi != ACT_PLUGIN_ABI_VERSION)
        return act_error_set(err, path, ACT_ERR_PLUGIN,
                             "expected plugin ABI version %d, found version %d (rebuild the "
                             "plugin against this act's <act/plugin.h>)",
                             ACT_PLUGIN_ABI_VERSION, *abi);
    return 0;
}

/* Runs the plugin's registration and publishes what it staged, all or none. */
static int register_all(void *h, ir_registry *reg, const char *path, act_error *err)
{
    entry_fn entry = (entry_fn)dlsym(h, "act_plugin_register");
    if (!entry)
        return act_error_set(err, path, ACT_ERR_PLUGIN,
                             "expected the function act_plugin_register, found none");
    pl_stage s;
    pl_stage_init(&s, reg, path);
    int rc = entry(&s.table);
    if (rc)
        rc = act_error_set(err, path, ACT_ERR_PLUGIN,
                           "expected act_plugin_register to return 0, found %d%s%s", rc,
                           s.failed.code ? ": " : "", s.failed.message);
    else if (s.failed.code)
        rc = act_error_set(err, path,
                           s.failed.code == ACT_ERR_NOMEM ? ACT_ERR_NOMEM : ACT_ERR_PLUGIN, "%s",
                           s.failed.message);
    else if ((rc = ir_registry_add(reg, s.acts, s.n, err)) && rc != ACT_ERR_NOMEM) {
        rc = ACT_ERR_PLUGIN; /* a clash: the message already names both origins */
        if (err) {
            err->code = rc;
            snprintf(err->file, sizeof err->file, "%s", path);
        }
    }
    pl_stage_fini(&s);
    return rc;
}

int pl_load(ir_registry *reg, pl_library **loaded, const char *path, act_error *err)
{
    struct stat st;
    if (stat(path, &st))
        return act_error_set(err, path, ACT_ERR_PLUGIN,
                             "expected a plugin library file, found none (%s)", strerror(errno));
    const pl_library *twin = find_loaded(*loaded, &st);
    if (twin)
        return act_error_set(err, path, ACT_ERR_PLUGIN,
                             "expected a plugin not loaded yet, found the library already loaded "
                             "from %s",
                             twin->path);
    size_t len = strlen(path);
    pl_library *lib = malloc(sizeof *lib + len + 1);
    if (!lib)
        return act_error_set(err, path, ACT_ERR_NOMEM, "out of memory");
    *lib = (pl_library){.dev = st.st_dev, .ino = st.st_ino, .next = *loaded};
    memcpy(lib->path, path, len + 1);
    int rc;
    if (!(lib->handle = open_library(path))) {
        const char *why = dlerror();
        rc = act_error_set(err, path, ACT_ERR_PLUGIN,
                           "expected a loadable shared library, found: %s",
                           why ? why : "out of memory");
        goto fail;
    }
    if ((rc = check_abi(lib->handle, path, err)) ||
        (rc = register_all(lib->handle, reg, path, err)))
        goto fail;
    *loaded = lib;
    return 0;
fail:
    if (lib->handle)
        dlclose(lib->handle);
    free(lib);
    return rc;
}

void pl_unload(pl_library *loaded)
{
    while (loaded) {
        pl_library *next = loaded->next;
        dlclose(loaded->handle);
        free(loaded);
        loaded = next;
    }
}
