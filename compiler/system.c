/* system: graphs/systems/<name>.yaml, read with libyaml.  See system.h for the keys. */
#include "system.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define MEMINFO "/proc/meminfo"

enum {
    K_NAME,
    K_DESCRIPTION,
    K_DEVICE,
    K_MESH,
    K_TOPOLOGY,
    K_DRAM,
    K_DRAM_RESERVED,
    K_L1,
    K_TILE,
    K_HOST_CORES,
    K_COUNT
};

static const char *const key_names[K_COUNT] = {
    [K_NAME] = "name",         [K_DESCRIPTION] = "description",
    [K_DEVICE] = "device",     [K_MESH] = "mesh",
    [K_TOPOLOGY] = "topology", [K_DRAM] = "dram",
    [K_DRAM_RESERVED] = "dram_reserved", [K_L1] = "l1",
    [K_TILE] = "tile",         [K_HOST_CORES] = "host_cores",
};

static const int required[] = {K_NAME, K_DEVICE, K_MESH, K_TOPOLOGY, K_DRAM, K_TILE};

const char *mgc_topology_name(mgc_topology t)
{
    switch (t) {
    case MGC_TOPO_LINEAR: return "linear";
    case MGC_TOPO_RING: return "ring";
    case MGC_TOPO_MESH: return "mesh";
    }
    return "?";
}

int64_t mgc_system_dram_usable(const mgc_system *s)
{
    return s->dram_bytes - s->dram_reserved;
}

/* "<path>:<line>:<col>: <message>" at a node's start. */
__attribute__((format(printf, 4, 5)))
static int node_err(mgc_error *e, const char *path, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mgc_errorf(e, "%s:%zu:%zu: %s", path, n->start_mark.line + 1,
                      n->start_mark.column + 1, msg);
}

int mgc_system_host_memory(int64_t *bytes, mgc_error *e)
{
    FILE *f = fopen(MEMINFO, "r");
    if (!f)
        return mgc_errorf(e, "%s: cannot open: %s", MEMINFO, strerror(errno));
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %lld kB", &kb) == 1)
            break;
    fclose(f);
    if (kb <= 0 || kb > INT64_MAX / 1024)
        return mgc_errorf(e, "%s: no usable MemTotal line", MEMINFO);
    *bytes = (int64_t)kb * 1024;
    return 0;
}

static int host_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static bool is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "empty";
    }
}

/* A plain decimal integer in [lo, hi]. */
static int parse_int(const char *path, const yaml_node_t *n, const char *key, int64_t lo,
                     int64_t hi, int64_t *out, mgc_error *e)
{
    if (n->type != YAML_SCALAR_NODE)
        return node_err(e, path, n, "'%s' is %s, expected an integer", key, node_kind(n));
    const char *s = scalar(n);
    if (!is_plain(n))
        return node_err(e, path, n, "'%s' is the quoted string \"%s\", expected an integer", key,
                        s);
    bool digits = *s != 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            digits = false;
    if (!digits)
        return node_err(e, path, n, "'%s' is '%s', expected a non-negative decimal integer", key,
                        s);
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < lo || v > hi)
        return node_err(e, path, n, "'%s' is %s, expected an integer in [%lld, %lld]", key, s,
                        (long long)lo, (long long)hi);
    *out = v;
    return 0;
}

/* A scalar copied into buf (quoted or plain). */
static int parse_string(const char *path, const yaml_node_t *n, const char *key, char *buf,
                        size_t size, mgc_error *e)
{
    if (n->type != YAML_SCALAR_NODE)
        return node_err(e, path, n, "'%s' is %s, expected a string", key, node_kind(n));
    size_t len = n->data.scalar.length;
    if (len >= size)
        return node_err(e, path, n, "'%s' is longer than %zu characters", key, size - 1);
    if (strlen(scalar(n)) != len)
        return node_err(e, path, n, "'%s' contains a NUL character", key);
    memcpy(buf, scalar(n), len + 1);
    return 0;
}

static bool valid_name(const char *s)
{
    if (!*s || *s == '.')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return false;
    return true;
}

/* The file name without directory and ".yaml". */
static void file_stem(const char *path, char *buf, size_t size)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 5 && strcmp(b + n - 5, ".yaml") == 0)
        n -= 5;
    snprintf(buf, size, "%.*s", (int)n, b);
}

static int parse_mesh(const char *path, yaml_document_t *doc, const yaml_node_t *n,
                      mgc_system *s, mgc_error *e)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return node_err(e, path, n, "'mesh' is %s, expected [rows, cols]", node_kind(n));
    yaml_node_item_t *it = n->data.sequence.items.start;
    size_t cnt = (size_t)(n->data.sequence.items.top - it);
    if (cnt != 2)
        return node_err(e, path, n, "'mesh' has %zu entries, expected [rows, cols]", cnt);
    int64_t dims[2];
    for (int i = 0; i < 2; i++) {
        yaml_node_t *d = yaml_document_get_node(doc, it[i]);
        if (parse_int(path, d, i ? "mesh cols" : "mesh rows", 0, INT64_MAX, &dims[i], e) != 0)
            return -1;
        if (dims[i] < 1)
            return node_err(e, path, d, "'mesh' %s is %lld, must be >= 1", i ? "cols" : "rows",
                            (long long)dims[i]);
        if (dims[i] > MGC_SYSTEM_MAX_DEVICES)
            return node_err(e, path, d, "'mesh' %s is %lld, more than %d devices",
                            i ? "cols" : "rows", (long long)dims[i], MGC_SYSTEM_MAX_DEVICES);
    }
    if (dims[0] * dims[1] > MGC_SYSTEM_MAX_DEVICES)
        return node_err(e, path, n, "'mesh' [%lld, %lld] has %lld devices, more than %d",
                        (long long)dims[0], (long long)dims[1], (long long)(dims[0] * dims[1]),
                        MGC_SYSTEM_MAX_DEVICES);
    s->mesh_rows = (int)dims[0];
    s->mesh_cols = (int)dims[1];
    s->num_devices = s->mesh_rows * s->mesh_cols;
    return 0;
}

static int parse_value(const char *path, yaml_document_t *doc, int key, const yaml_node_t *v,
                       mgc_system *s, mgc_error *e)
{
    const char *kn = key_names[key];
    int64_t x;
    if (v->type == YAML_SCALAR_NODE && is_plain(v) &&
        (v->data.scalar.length == 0 || strcmp(scalar(v), "~") == 0 ||
         strcmp(scalar(v), "null") == 0))
        return node_err(e, path, v, "'%s' has no value", kn);
    switch (key) {
    case K_NAME:
        if (parse_string(path, v, kn, s->name, sizeof s->name, e) != 0)
            return -1;
        if (!valid_name(s->name))
            return node_err(e, path, v, "'name' '%s' may only contain letters, digits, '_', '-' "
                            "and '.'", s->name);
        return 0;
    case K_DESCRIPTION:
        return parse_string(path, v, kn, s->description, sizeof s->description, e);
    case K_DEVICE:
        return parse_string(path, v, kn, s->device, sizeof s->device, e);
    case K_MESH:
        return parse_mesh(path, doc, v, s, e);
    case K_TOPOLOGY: {
        char t[32];
        if (parse_string(path, v, kn, t, sizeof t, e) != 0)
            return -1;
        if (!strcmp(t, "linear"))
            s->topology = MGC_TOPO_LINEAR;
        else if (!strcmp(t, "ring"))
            s->topology = MGC_TOPO_RING;
        else if (!strcmp(t, "mesh"))
            s->topology = MGC_TOPO_MESH;
        else
            return node_err(e, path, v, "'topology' is '%s', expected linear, ring or mesh", t);
        return 0;
    }
    case K_DRAM:
        if (is_plain(v) && strcmp(scalar(v), "host") == 0) {
            s->dram_from_host = true;
            if (mgc_system_host_memory(&s->dram_bytes, e) != 0)
                return mgc_error_prefix(e, "%s:%zu:%zu: 'dram: host'", path,
                                        v->start_mark.line + 1, v->start_mark.column + 1);
            return 0;
        }
        if (parse_int(path, v, "dram (bytes, or host)", 1, INT64_MAX, &x, e) != 0)
            return -1;
        s->dram_bytes = x;
        return 0;
    case K_DRAM_RESERVED:
        if (parse_int(path, v, kn, 0, INT64_MAX, &x, e) != 0)
            return -1;
        s->dram_reserved = x;
        return 0;
    case K_L1:
        if (parse_int(path, v, kn, 0, INT64_MAX, &x, e) != 0)
            return -1;
        s->l1_bytes = x;
        return 0;
    case K_TILE:
        if (parse_int(path, v, kn, 1, 1024, &x, e) != 0)
            return -1;
        if (x & (x - 1))
            return node_err(e, path, v, "'tile' is %lld, expected a power of two", (long long)x);
        s->tile = (int)x;
        return 0;
    case K_HOST_CORES:
        if (is_plain(v) && strcmp(scalar(v), "auto") == 0) {
            s->host_cores_auto = true;
            s->host_cores = host_cpu_count();
            return 0;
        }
        if (parse_int(path, v, "host_cores (a count, or auto)", 1, 1 << 20, &x, e) != 0)
            return -1;
        s->host_cores_auto = false;
        s->host_cores = (int)x;
        return 0;
    }
    return -1;
}

static int parse_doc(const char *path, yaml_document_t *doc, mgc_system *s, mgc_error *e)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root)
        return mgc_errorf(e, "%s: empty file, expected a system description", path);
    if (root->type != YAML_MAPPING_NODE)
        return node_err(e, path, root, "the file is %s, expected a mapping of system keys",
                        node_kind(root));
    const yaml_node_t *seen[K_COUNT] = {0}, *vals[K_COUNT] = {0};
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return node_err(e, path, k, "a key is %s, expected a name", node_kind(k));
        int key = -1;
        for (int i = 0; i < K_COUNT; i++)
            if (strcmp(scalar(k), key_names[i]) == 0)
                key = i;
        if (key < 0) {
            char known[256] = "";
            for (int i = 0; i < K_COUNT; i++) {
                strcat(known, i ? ", " : "");
                strcat(known, key_names[i]);
            }
            return node_err(e, path, k, "unknown key '%s' (known keys: %s)", scalar(k), known);
        }
        if (seen[key])
            return node_err(e, path, k, "key '%s' is given twice (first on line %zu)",
                            key_names[key], seen[key]->start_mark.line + 1);
        seen[key] = k;
        vals[key] = v;
        if (parse_value(path, doc, key, v, s, e) != 0)
            return -1;
    }
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!seen[required[i]])
            return mgc_errorf(e, "%s: missing required key '%s'", path, key_names[required[i]]);
    if (s->dram_reserved >= s->dram_bytes)
        return node_err(e, path, vals[K_DRAM_RESERVED],
                        "'dram_reserved' (%lld bytes) must be smaller than 'dram' (%lld bytes)",
                        (long long)s->dram_reserved, (long long)s->dram_bytes);
    char stem[256];
    file_stem(path, stem, sizeof stem);
    if (strcmp(stem, s->name) != 0)
        return node_err(e, path, vals[K_NAME], "'name' is '%s' but the file is named '%s.yaml'",
                        s->name, stem);
    return 0;
}

int mgc_system_load(const char *path, mgc_system *out, mgc_error *e)
{
    mgc_system s;
    memset(&s, 0, sizeof s);
    if (strlen(path) >= sizeof s.path)
        return mgc_errorf(e, "%s: path is too long", path);
    memcpy(s.path, path, strlen(path) + 1);
    s.host_cores_auto = true;
    s.host_cores = host_cpu_count();

    FILE *f = fopen(path, "rb");
    if (!f)
        return mgc_errorf(e, "%s: cannot open: %s", path, strerror(errno));
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return mgc_errorf(e, "%s: out of memory", path);
    }
    yaml_parser_set_input_file(&parser, f);
    int rc = -1;
    if (!yaml_parser_load(&parser, &doc)) {
        mgc_errorf(e, "%s:%zu:%zu: invalid YAML: %s%s%s", path, parser.problem_mark.line + 1,
                   parser.problem_mark.column + 1, parser.problem ? parser.problem : "error",
                   parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        fclose(f);
        return -1;
    }
    rc = parse_doc(path, &doc, &s, e);
    yaml_document_delete(&doc);
    if (rc == 0) {
        /* exactly one document */
        yaml_document_t extra;
        if (!yaml_parser_load(&parser, &extra)) {
            rc = mgc_errorf(e, "%s:%zu:%zu: invalid YAML: %s", path,
                            parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                            parser.problem ? parser.problem : "error");
        } else {
            if (yaml_document_get_root_node(&extra))
                rc = mgc_errorf(e, "%s:%zu: a second YAML document; a system file holds one",
                                path, extra.start_mark.line + 1);
            yaml_document_delete(&extra);
        }
    }
    yaml_parser_delete(&parser);
    fclose(f);
    if (rc == 0)
        *out = s;
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "cpu, n150, t3000" (sorted stems of *.yaml in dir) into buf; -1 if dir is unreadable. */
static int list_systems(const char *dir, char *buf, size_t size)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 256) {
        size_t l = strlen(de->d_name);
        if (l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0 && de->d_name[0] != '.' &&
            (names[n] = strndup(de->d_name, l - 5)))
            n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (k < size)
            k += (size_t)snprintf(buf + k, size - k, "%s%s", k ? ", " : "", names[i]);
        free(names[i]);
    }
    if (n == 0)
        snprintf(buf, size, "none");
    return 0;
}

int mgc_system_find(const char *name, const char *search_dir, mgc_system *out, mgc_error *e)
{
    const char *dir = search_dir ? search_dir : MGC_SYSTEMS_DIR;
    char avail[512];
    if (!valid_name(name) || strlen(name) > 63) {
        if (list_systems(dir, avail, sizeof avail) != 0)
            snprintf(avail, sizeof avail, "none");
        return mgc_errorf(e, "invalid system name '%s' (available in %s: %s)", name, dir, avail);
    }
    char path[1024];
    if ((size_t)snprintf(path, sizeof path, "%s/%s.yaml", dir, name) >= sizeof path)
        return mgc_errorf(e, "%s: system directory path is too long", dir);
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        if (list_systems(dir, avail, sizeof avail) != 0)
            return mgc_errorf(e, "unknown system '%s': cannot read the systems directory %s: %s",
                              name, dir, strerror(errno));
        return mgc_errorf(e, "unknown system '%s' (available in %s: %s)", name, dir, avail);
    }
    return mgc_system_load(path, out, e);
}
