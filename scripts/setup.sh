#!/bin/sh
# Installs the Debian packages mgc needs to build and test.  As root it runs
# apt-get itself; otherwise it prints the exact command to run.  Idempotent and
# quick when everything is already there.
set -e
PKGS="make gcc flex bison pkg-config libyaml-dev libjson-c-dev libopenblas-dev libcmocka-dev libpcre2-dev libutf8proc-dev"
# clang 14 and its libFuzzer runtime (make fuzz, make CC=clang), valgrind (make valgrind)
PKGS="$PKGS clang clang-14 libclang-rt-14-dev valgrind"
# The Python package is built, installed (offline, into a venv) and tested
# with Debian's python3; binutils' nm/objdump check the library's exports.
PKGS="$PKGS binutils python3 python3-venv python3-pip python3-setuptools python3-wheel"
# OpenMPI: the MPI mesh (--mesh mpi; mpirun)
PKGS="$PKGS libopenmpi-dev openmpi-bin"
# Node.js and npm run the reference tokenizers the tests compare against;
# any installed node will do (the Debian packages only when there is none).
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
# Headless chromium renders the HTML eval report in its test (mgc eval --report).
PKGS="$PKGS chromium"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "setup: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "setup: missing Debian packages. Run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
  exit 1
fi
