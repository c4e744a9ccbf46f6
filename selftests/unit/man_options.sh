#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Every option that `concwatch --help` and `concwatch COMMAND --help` list is in the man
# page, in the command's own OPTIONS subsection (.SS "run", ...; the live view's is
# "Without a command (live view)"), or, for those under the help's "Common options:" and
# argp's own (--help, --usage, --version), in .SS "Common options". The lists come from
# the binary at test time: an option added to the CLI and not to the man page fails here.
# TAP, one result per command and one for the common options.

top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-$top/build}
cw=$O/concwatch
man=${CW_MAN_PAGE:-$top/Documentation/concwatch.8}

echo "TAP version 13"
if [ ! -x "$cw" ] || [ ! -r "$man" ]; then
	echo "1..1"
	echo "not ok 1 man_options # $cw or $man missing"
	exit 1
fi
cmds=$("$cw" --help | sed -n '/^Commands:/,/^[^ ]/s/^  concwatch \([a-z][a-z]*\) .*/\1/p' | sort -u)
echo "1..$(($(echo "$cmds" | wc -w) + 2))"

# section TITLE: the text of .SS "TITLE" up to the next .SS or .SH, roff escapes removed
section()
{
	awk -v t=".SS \"$1\"" '$0 == t { on = 1; next } /^\.S[SH]/ { on = 0 } on' "$man" |
		sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g'
}

# options HELP-TEXT WHICH: the short and long options of the help's own part (WHICH=own)
# or of its "Common options:" part and argp's (WHICH=common), one per line
options()
{
	echo "$1" | awk -v which="$2" '
		/^ Common options:/ { part = "common"; next }
		!part { part = "own" }
		# an option starts a line indented by 2 to 6 (a description by more)
		part == which && match($0, /^  +-/) && RLENGTH <= 7 {
			for (i = 1; i <= NF; i++) {
				w = $i
				sub(/[,=].*$/, "", w)
				if (w ~ /^--?[^-]/ && w != "-" ) print w
				if ($i !~ /,$/) break
			}
		}'
}

# check N NAME TITLE OPTIONS: every option in the section TITLE
n=0
fail=0
check()
{
	text=$(section "$3")
	missing=""
	for o in $4; do
		re=$(printf '%s' "$o" | sed 's/[?.*+]/\\&/g')
		printf '%s\n' "$text" | grep -qE -- "(^|[^[:alnum:]-])$re([^[:alnum:]-]|$)" ||
			missing="$missing $o"
	done
	n=$((n + 1))
	if [ -z "$text" ]; then
		echo "# no .SS \"$3\" in $man"
		echo "not ok $n man_options.$2"
		fail=1
	elif [ -n "$missing" ]; then
		echo "# not in the man page's .SS \"$3\":$missing"
		echo "not ok $n man_options.$2"
		fail=1
	else
		echo "ok $n man_options.$2"
	fi
}

help=$("$cw" --help)
check $n live "Without a command (live view)" "$(options "$help" own)"
common=$(options "$help" common)
for c in $cmds; do
	help=$("$cw" "$c" --help)
	check $n "$c" "$c" "$(options "$help" own)"
	common="$common
$(options "$help" common)"
done
check $n common "Common options" "$(echo "$common" | sort -u)"
[ "$fail" -eq 0 ]
