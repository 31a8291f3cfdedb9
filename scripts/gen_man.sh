#!/bin/sh
# Writes mgc(1) in man(7) format to standard output, made from the command's
# own help texts (`mgc --help` and `mgc COMMAND --help`), so the page says
# exactly what the program says.  Usage: gen_man.sh PATH/TO/mgc VERSION
set -e
mgc=$1
version=$2
# roff: escape backslashes, and a leading . or ' would be read as a request
esc() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
cat <<HEAD
.TH MGC 1 "" "mgc $version" "User Commands"
.SH NAME
mgc \- compile LLM graph specs into plans for a device mesh, run and evaluate them
.SH SYNOPSIS
.B mgc
.I COMMAND
.RI [ ARGS ...]
.SH DESCRIPTION
.nf
HEAD
"$mgc" --help | esc
echo ".fi"
echo ".SH COMMANDS"
for c in $("$mgc" --help | sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p'); do
  echo ".SS $c"
  echo ".nf"
  "$mgc" "$c" --help | esc
  echo ".fi"
done
cat <<'TAIL'
.SH ENVIRONMENT
.TP
.B MGC_DATADIR
where the systems (graphs/systems) and the bundled specs (graphs/) are found;
by default a source tree's graphs/, else share/mgc of the installation.
.TP
.B NO_COLOR
when set, diagnostics are not coloured.
.SH EXIT STATUS
0 success, 1 bad input (a message names the file and the cause), 2 bad usage.
.SH SEE ALSO
The C interface is documented in its header,
.IR mgc.h ;
.BR pkg-config (1)
.B --cflags --libs mgc
builds against it.
TAIL
