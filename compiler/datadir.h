/* datadir.h: where the systems and common spec files are found at run time,
 * so an installed mgc works from any directory (see mgc_data_dir in mgc.h). */
#ifndef MGC_DATADIR_H
#define MGC_DATADIR_H

/* The first of: $MGC_DATADIR; "." when ./graphs/systems exists (a source
 * tree); share/mgc beside the directory of the binary or shared library this
 * code is in (PREFIX/bin or PREFIX/lib -> PREFIX/share/mgc), when it holds
 * graphs/systems; the MGC_DATADIR the build was configured with. */
const char *mgc_datadir(void);

/* mgc_datadir()/graphs/systems, or "graphs/systems" in a source tree. */
const char *mgc_systems_dir_default(void);

#endif
