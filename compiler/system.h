/* system: the machine a plan is compiled for, read from graphs/systems/<name>.yaml.
 *
 * A system is a mesh of identical devices.  The YAML file is one mapping with these keys
 * (unknown keys are errors, naming the key and its line):
 *
 *   name:          n150             required; must equal the file name without ".yaml"
 *   description:   "..."            optional free text
 *   device:        wormhole_b0      required; the device architecture ("cpu" for the host)
 *   mesh:          [rows, cols]     required; each >= 1, rows*cols <= MGC_SYSTEM_MAX_DEVICES
 *   topology:      linear           required; linear | ring | mesh: how the collectives
 *                                   may route between devices
 *   dram:          12884901888      required; bytes of DRAM per device, or `host`: this
 *                                   host's memory (MemTotal of /proc/meminfo at load time)
 *   dram_reserved: 268435456        optional (0); bytes per device the plan may not use
 *                                   (firmware, program binaries, trace buffers, OS)
 *   l1:            1499136          optional (0 = not modelled); bytes of L1 per core
 *   tile:          32               required; tile edge, a power of two <= 1024: inputs are
 *                                   padded to multiples of it
 *   host_cores:    auto             optional (auto); host CPU cores the runtime may use to
 *                                   run the mesh: a count >= 1, or `auto` = the CPUs this
 *                                   process may run on (sched_getaffinity) at load time
 *
 * Integers are plain decimal scalars (no quotes, no sign, no suffix).  Errors name the
 * file, the line and column, and the cause.  mgc_system is a plain value: no free needed.
 */
#ifndef MGC_SYSTEM_H
#define MGC_SYSTEM_H

#include <stdbool.h>
#include <stdint.h>

#include "datadir.h"
#include "mgc_error.h"

#define MGC_SYSTEM_MAX_DEVICES 4096
/* Where `mgc_system_find` looks when given no directory: graphs/systems of a
 * source tree, else the installed data dir's (datadir.h). */
#define MGC_SYSTEMS_DIR (mgc_systems_dir_default())

typedef enum mgc_topology {
    MGC_TOPO_LINEAR,
    MGC_TOPO_RING,
    MGC_TOPO_MESH,
} mgc_topology;

typedef struct mgc_system {
    char name[64];
    char description[256];
    char device[64];
    char path[1024];          /* the file it was read from */
    int mesh_rows, mesh_cols;
    int num_devices;          /* mesh_rows * mesh_cols */
    mgc_topology topology;
    int64_t dram_bytes;       /* per device */
    bool dram_from_host;      /* `dram: host` */
    int64_t dram_reserved;    /* per device, < dram_bytes */
    int64_t l1_bytes;         /* per core; 0 = not modelled */
    int tile;
    int host_cores;           /* >= 1 */
    bool host_cores_auto;     /* `host_cores: auto` (or absent) */
} mgc_system;

/* Reads and validates one system file. */
int mgc_system_load(const char *path, mgc_system *out, mgc_error *e);

/* Loads <search_dir>/<name>.yaml (search_dir NULL = MGC_SYSTEMS_DIR).  An unknown name is
 * an error listing the systems available in the directory. */
int mgc_system_find(const char *name, const char *search_dir, mgc_system *out, mgc_error *e);

/* "linear", "ring", "mesh". */
const char *mgc_topology_name(mgc_topology t);

/* DRAM a plan may use per device: dram_bytes - dram_reserved. */
int64_t mgc_system_dram_usable(const mgc_system *s);

/* MemTotal of /proc/meminfo in bytes (what `dram: host` means). */
int mgc_system_host_memory(int64_t *bytes, mgc_error *e);

#endif
