# make install into a staged prefix (DESTDIR + PREFIX), then, from outside the
# source tree: the installed command compiles a bundled spec with the installed
# systems, the C example and the README's C example build through
# `pkg-config --cflags --libs mgc` and reproduce HF's generated ids and exact
# top-1, the shared library exports exactly mgc.h's functions under a soname
# with the ABI version, the man page covers every command, and make uninstall
# removes it all.  Run by `make test` from the repository root.
tmp=$(mktemp -d)
. tests/sh/lib.sh
echo "[==========] Running tests/sh/test_install.sh"
stage=$tmp/stage
prefix=/opt/mgc-test
root=$stage$prefix
fix=$REPO/tests/fixtures/llama32
ref=$fix/reference.safetensors
plen=$(prompt_len "$ref")
prompt=$(ids "$ref" input_ids 0 "$plen")
hf_gen=$(ids "$ref" generated_ids | tr ',' ' ')
ngen=$(echo $hf_gen | wc -w)

ok "make install DESTDIR PREFIX" make -s install DESTDIR="$stage" PREFIX=$prefix SAN="$SAN"
ok "installed files" sh -c "test -x '$root/bin/mgc' && test -f '$root/include/mgc.h' && test -f '$root/lib/libmgc.a' &&
  test -f '$root/lib/libmgc.so.1' && test -L '$root/lib/libmgc.so' && test -f '$root/lib/pkgconfig/mgc.pc' &&
  test -f '$root/share/man/man1/mgc.1' && test -f '$root/share/mgc/graphs/systems/t3000.yaml' &&
  test -f '$root/share/mgc/graphs/common/llama.graph' && ! test -e '$root/include/plan.h'"

# the soname carries the ABI version; only mgc.h's functions are exported
check_exports() {
  objdump -p "$root/lib/libmgc.so.1" | grep -q 'SONAME *libmgc.so.1' || { echo "no soname libmgc.so.1"; return 1; }
  nm -D --defined-only "$root/lib/libmgc.so.1" | awk '{print $3}' | sort -u >"$tmp/exported"
  sed -n 's/^MGC_API [^(]*[ *]\(mgc_[a-z_0-9]*\)(.*/\1/p' "$root/include/mgc.h" | sort -u >"$tmp/declared"
  test -s "$tmp/declared" || { echo "no declarations found"; return 1; }
  diff "$tmp/declared" "$tmp/exported"
}
ok "soname and exported symbols == mgc.h" check_exports

# the installed command from another directory: systems and specs from share/mgc
mkdir -p "$tmp/elsewhere"
ok "installed mgc compiles a bundled spec outside the tree" sh -c "cd '$tmp/elsewhere' &&
  '$root/bin/mgc' compile '$root/share/mgc/graphs/meta-llama/Llama-3.2-1B/t3000.graph' --model '$fix' -o p.yaml &&
  grep -q 'name: .t3000.' p.yaml"
# a spec of one's own, outside both trees, importing the installed common specs by name
sed 's|^import .*|import "common/llama.graph"|' graphs/meta-llama/Llama-3.2-1B/t3000.graph >"$tmp/elsewhere/mine.graph"
ok "a spec elsewhere imports common/llama.graph from the installed data dir" sh -c "cd '$tmp/elsewhere' &&
  '$root/bin/mgc' compile mine.graph --model '$fix' -o mine.yaml"
ok "mgc --version" sh -c "'$root/bin/mgc' --version | grep -q \"$(sed -n 's/^#define MGC_VERSION \"\(.*\)\"/\1/p' include/mgc.h)\""
ok "man page has every command's --help" sh -c "for c in check fmt compile run eval reference tokenize; do
  grep -q \"^.SS \$c\$\" '$root/share/man/man1/mgc.1' || exit 1; done; grep -q 'ignore-eos' '$root/share/man/man1/mgc.1'"

# pkg-config against the staged prefix (the sysroot maps /opt/... into the stage)
export PKG_CONFIG_PATH="$root/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage"
export LD_LIBRARY_PATH="$root/lib"
build_example() { # SOURCE OUT
  (cd "$tmp/elsewhere" && $CC -std=c11 -Wall -Wextra -Werror $SANFLAGS "$1" -o "$2" $(pkg-config --cflags --libs mgc))
}
ok "examples/c builds through pkg-config" build_example "$REPO/examples/c/generate.c" "$tmp/elsewhere/generate"
run_example() {
  out=$(cd "$tmp/elsewhere" && ./generate "$root/share/mgc/graphs/meta-llama/Llama-3.2-1B/t3000.graph" "$fix" "$ref" \
        "$prompt" "$ngen") || { echo "$out"; return 1; }
  echo "$out"
  echo "$out" | grep -qx "generated: $hf_gen" || { echo "expected HF's: $hf_gen"; return 1; }
  echo "$out" | grep -q "top1 1.000000, top5 1.000000"
}
ok "examples/c: HF's generated ids and exact top-1" run_example
# the README's "Use it from C" block, verbatim
sed -n '/^## Use it from C/,/^## /p' README.md | sed -n '/^```c$/,/^```$/p' | sed '1d;$d' >"$tmp/elsewhere/readme.c"
ok "README's C example builds" build_example "$tmp/elsewhere/readme.c" "$tmp/elsewhere/readme"
run_readme() {
  out=$(cd "$tmp/elsewhere" && ./readme "$root/share/mgc/graphs/meta-llama/Llama-3.2-1B/t3000.graph" "$fix" "$ref") ||
    { echo "$out"; return 1; }
  echo "$out"
  echo "$out" | grep -q "top1 1.000"
}
ok "README's C example runs" run_readme
unset PKG_CONFIG_SYSROOT_DIR

ok "make uninstall" make -s uninstall DESTDIR="$stage" PREFIX=$prefix SAN="$SAN"
ok "nothing left but directories" sh -c "test -z \"\$(find '$stage' -type f -o -type l)\""
finish
