# The Python package with Debian's python3: installed offline with pip into a
# virtual environment that sees the system's packages (as python/README.md
# tells users), then its unittest suite (python/tests) and the README's
# "Use it from Python" example, both against build/'s libmgc.so.1.  Run by
# `make test` from the repository root.
tmp=$(mktemp -d)
. tests/sh/lib.sh
echo "[==========] Running tests/sh/test_python.sh"
py=/usr/bin/python3
export MGC_LIBRARY="$REPO/$BUILD/libmgc.so.1"
# a build tree is not an installation: its data dir is the repository
export MGC_DATADIR="$REPO"
if [ "$SAN" = 1 ]; then
  # the ASan runtime must come first in a process not built with it
  export LD_PRELOAD="$($CC -print-file-name=libasan.so)"
fi
# (from a copy: building the package writes build/ and *.egg-info next to it)
export PYTHONDONTWRITEBYTECODE=1
cp -R "$REPO/python" "$tmp/pkg"
ok "venv + pip install --no-index ./python (offline)" sh -c "$py -m venv --system-site-packages '$tmp/env' &&
  '$tmp/env/bin/pip' install -q --no-build-isolation --no-index '$tmp/pkg'"
# run from elsewhere, so the installed package (not ./python) is imported
mkdir -p "$tmp/elsewhere"
(cd "$tmp/elsewhere" && "$tmp/env/bin/python" -m unittest discover -s "$REPO/python/tests" -t "$REPO/python/tests" -v) \
  >"$tmp/unittest.txt" 2>&1
rc=$?
grep -E '(ok|FAIL|ERROR|skipped.*)$' "$tmp/unittest.txt" | grep ' \.\.\. ' | sed 's/^/    /'
ran=$(sed -n 's/^Ran \([0-9]*\) test.*/\1/p' "$tmp/unittest.txt")
bad=$(sed -n 's/^FAILED (\(.*\))/\1/p' "$tmp/unittest.txt" | tr ',' '\n' | awk -F= '{s += $2} END {print s + 0}')
[ -n "$ran" ] || ran=0
[ -n "$bad" ] || bad=0
if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
[ "$rc" -ne 0 ] && tail -n 40 "$tmp/unittest.txt"
passed=$((passed + ran - bad)); failed=$((failed + bad))
ok "the package imported is the installed one" sh -c "cd '$tmp/elsewhere' && '$tmp/env/bin/python' -c '
import mgc, sys; sys.exit(0 if \"$tmp/env\" in mgc.__file__ else 1)'"
sed -n '/^## Use it from Python/,/^## /p' README.md | sed -n '/^```python$/,/^```$/p' | sed '1d;$d' >"$tmp/readme.py"
readme_py() {
  out=$("$tmp/env/bin/python" "$tmp/readme.py") || { echo "$out"; return 1; }
  echo "$out"
  echo "$out" | grep -q "top1 1.0"
}
ok "README's Python example runs" readme_py
finish
