#!/bin/sh
# layering.sh - make layering (and make check): every #include "..." of
# the source rooms must go in an allowed direction (ARCHITECTURE.md).
#
# An include is resolved the way the compiler does: first next to the file
# that includes it, then in the -I folders in Makefile.in's order
# (classifier, config, corpus, trainer, milter). Forbidden directions:
#
#   classifier/store/**  ->  classifier/bayes.h, classifier/tokens,
#                            classifier/score, classifier/message
#   classifier/**        ->  config, corpus, trainer, milter
#   config/              ->  corpus, trainer, milter
#   corpus/              ->  trainer, milter
#   trainer/             ->  milter
#   anything             ->  another room's NAME_internal.h (its private header)
#
# tests/ may use any room, but through its headers only: no file of the
# rooms or of tests/ may #include a .c file (a test links the programs'
# libraries, milter/libbayesd.a, trainer/libbayesc.a, config/libconfig.a,
# and reaches a module's private function through its *_internal.h).
#
# Each violation is printed as FILE:LINE: include X (room A may not use
# room B, or: a .c file); exits 1 if there is any, 0 otherwise.
cd "$(dirname "$0")/.." || exit 1

INC_DIRS="classifier config corpus trainer milter"

# room PATH - the room a file (path from the top) lives in
room() {
	case $1 in
	classifier/store/*) echo classifier/store ;;
	classifier/tokens/*) echo classifier/tokens ;;
	classifier/score/*) echo classifier/score ;;
	classifier/message/*) echo classifier/message ;;
	classifier/bayes.h) echo classifier/bayes.h ;;
	classifier/*) echo classifier ;;
	config/*) echo config ;;
	corpus/*) echo corpus ;;
	trainer/*) echo trainer ;;
	milter/*) echo milter ;;
	*) echo other ;;
	esac
}

# forbidden FROM TO - true when room FROM may not use room TO
forbidden() {
	case $1 in
	classifier/store)
		case $2 in
		classifier/bayes.h | classifier/tokens | classifier/score | classifier/message) return 0 ;;
		esac ;;
	esac
	case $1 in
	classifier*)
		case $2 in config | corpus | trainer | milter) return 0 ;; esac ;;
	config)
		case $2 in corpus | trainer | milter) return 0 ;; esac ;;
	corpus)
		case $2 in trainer | milter) return 0 ;; esac ;;
	trainer)
		case $2 in milter) return 0 ;; esac ;;
	esac
	return 1
}

# resolve FILE X - the path from the top of the file #include "X" in FILE
# names, or nothing when it is not in the tree
resolve() {
	d=$(dirname "$1")
	for c in "$d" $INC_DIRS; do
		if [ -f "$c/$2" ]; then
			p=$(cd "$(dirname "$c/$2")" && pwd -P) || return
			echo "${p#"$TOP"/}/$(basename "$2")"
			return
		fi
	done
}

TOP=$(pwd -P)
bad=0
checked=0
list=$(find $INC_DIRS -name '*.[ch]' | LC_ALL=C sort)
for f in $list; do
	from=$(room "$f")
	# LINE:NAME of every #include "NAME"
	incs=$(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
		sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/')
	for li in $incs; do
		line=${li%%:*}
		x=${li#*:}
		t=$(resolve "$f" "$x")
		[ -n "$t" ] || continue
		checked=$((checked + 1))
		to=$(room "$t")
		[ "$from" = "$to" ] && continue
		case $t in
		*_internal.h)	# a room's private header: its own files only
			echo "$f:$line: include $x (a private header of room $to)"
			bad=$((bad + 1))
			continue ;;
		esac
		if forbidden "$from" "$to"; then
			echo "$f:$line: include $x (room $from may not use room $to)"
			bad=$((bad + 1))
		fi
	done
done
# no #include "X.c" anywhere, tests/ included
for f in $list $(find tests -name '*.[ch]' -not -path 'tests/fuzz/obj/*' | LC_ALL=C sort); do
	incs=$(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*\.c"' "$f" |
		sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/')
	for li in $incs; do
		checked=$((checked + 1))
		echo "$f:${li%%:*}: include ${li#*:} (a .c file: link its library, use its header)"
		bad=$((bad + 1))
	done
done
if [ "$bad" -gt 0 ]; then
	echo "layering: $bad forbidden include(s) in $checked checked"
	exit 1
fi
echo "layering: $checked includes checked, none forbidden"
exit 0
