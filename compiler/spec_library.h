/* spec_library.h: the shared spec library (the .graph files of graphs/common).
 *
 * The library sits next to the systems directory the compiler already
 * locates (MGC_SYSTEMS_DIR, system.h).  When a spec uses a name it does not
 * define or import, and a library file defines it (`swiglu` in
 * common/llama.graph), the checker says which import line to add instead
 * of guessing at a misspelling. */
#ifndef MGC_SPEC_LIBRARY_H
#define MGC_SPEC_LIBRARY_H

/* The directory of the spec library ("graphs/common"). */
const char *mgc_spec_library_dir(void);

/* `import "REL"` (malloc'd), REL the path from the directory of spec_path
 * to the first library file (in name order) whose top-level def or let is
 * called `name`; NULL when none is. */
char *mgc_spec_library_import_for(const char *name, const char *spec_path);

/* For an import whose file does not exist: `import "REL"` of the library
 * file with the same base name (import "../comon/llama.graph" ->
 * import "../common/llama.graph"), or NULL. */
char *mgc_spec_library_import_of(const char *import_path, const char *spec_path);

#endif
