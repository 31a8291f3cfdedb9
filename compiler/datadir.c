#include "datadir.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef MGC_DATADIR
#define MGC_DATADIR "/usr/local/share/mgc"
#endif

static char datadir[PATH_MAX], systems[PATH_MAX + 32];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int has_systems(const char *dir)
{
    char p[PATH_MAX + 32];
    struct stat st;
    snprintf(p, sizeof p, "%s/graphs/systems", dir);
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* PREFIX/share/mgc from the file this function was loaded from (the
 * library, or a program it is linked into statically). */
static int beside_binary(char *out, size_t size)
{
    Dl_info info;
    if (!dladdr((void *)beside_binary, &info) || !info.dli_fname || !strchr(info.dli_fname, '/'))
        return -1;
    char path[PATH_MAX];
    if (!realpath(info.dli_fname, path))
        return -1;
    for (int up = 0; up < 2; up++) { /* drop the file name, then bin/ or lib/ */
        char *slash = strrchr(path, '/');
        if (!slash)
            return -1;
        *slash = 0;
    }
    if ((size_t)snprintf(out, size, "%s/share/mgc", path) >= size)
        return -1;
    return has_systems(out) ? 0 : -1;
}

static void resolve(void)
{
    const char *env = getenv("MGC_DATADIR");
    if (env && *env)
        snprintf(datadir, sizeof datadir, "%s", env);
    else if (has_systems("."))
        snprintf(datadir, sizeof datadir, ".");
    else if (beside_binary(datadir, sizeof datadir) != 0)
        snprintf(datadir, sizeof datadir, "%s", MGC_DATADIR);
    if (strcmp(datadir, ".") == 0)
        snprintf(systems, sizeof systems, "graphs/systems");
    else
        snprintf(systems, sizeof systems, "%s/graphs/systems", datadir);
}

const char *mgc_datadir(void)
{
    pthread_once(&once, resolve);
    return datadir;
}

const char *mgc_systems_dir_default(void)
{
    pthread_once(&once, resolve);
    return systems;
}
