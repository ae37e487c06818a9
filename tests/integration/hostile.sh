#!/bin/sh
# hostile.sh - pathological messages (issue 5), generated here at test time
# into a temporary folder, each checked with `bayesc --db DB check FILE`
# against a database trained on corpus/samples.
#
# Each must be scored (a "Probability:" line and exit 0, spam or ham) or
# clearly refused (an exit status from 64 to 123 with a message on
# stderr): never killed by a signal,
# never a sanitizer report, within HOSTILE_MAX_S seconds and
# HOSTILE_MAX_KB of peak RSS (GNU time %M).
#
# The bounds: 10 s and 128 MB peak RSS for every message, the 100 MB ones
# included. bayesc reads a message file whole, so a 100 MB message costs
# its size plus ~15 MB; the MIME walk itself stops at its named limits
# (256 KB per header block, 1 MB per part, 2 MB of text, 1,000 parts, depth
# 20) and the tokenizer at 20,000 features. The daemon never holds more
# than scan_limit (1 MB by default) of a message, so its growth per
# message in flight is bounded by scan_limit plus the same walk limits.
# A sanitizer build (ASan's shadow memory, slower code) gets 512 MB and 60 s.
#
# Prints "ok - NAME: N kB, S s" / "not ok - ..." lines; exits 1 on any failure.
cd "$(dirname "$0")/../.." || exit 1
BC=${BAYESC:-./bayesc}
S=corpus/samples

[ -x "$BC" ] || { echo "SKIP: $BC not built"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 not installed"; exit 77; }
[ -x /usr/bin/time ] || { echo "SKIP: /usr/bin/time not installed (Debian package time)"; exit 77; }
ls $S/spam-*.eml $S/ham-*.eml >/dev/null 2>&1 || { echo "SKIP: no corpus/samples"; exit 77; }

if nm "$BC" 2>/dev/null | grep -q __asan_init || ldd "$BC" 2>/dev/null | grep -q libasan; then
	: "${HOSTILE_MAX_KB:=524288}" "${HOSTILE_MAX_S:=60}"
else
	: "${HOSTILE_MAX_KB:=131072}" "${HOSTILE_MAX_S:=10}"
fi
# Don't let ASan's leak report at exit count as a refusal: report it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

t=$(mktemp -d) || exit 1
trap 'rm -rf "$t"' EXIT
trap 'exit 1' INT TERM

"$BC" --db "$t/db" learn_spam $S/spam-*.eml >/dev/null 2>"$t/err" &&
	"$BC" --db "$t/db" learn_ham $S/ham-*.eml >/dev/null 2>>"$t/err" ||
	{ echo "not ok - training on $S failed: $(head -3 "$t/err")"; exit 1; }

python3 - "$t/mail" <<'PY' || { echo "not ok - generating the messages failed"; exit 1; }
import base64, os, random, sys
out = sys.argv[1]
os.makedirs(out)
rnd = random.Random(5)
MB = 1 << 20
def hdr(subject, ctype='text/plain; charset=us-ascii', extra=''):
    return ('From: hostile@example.net\r\nTo: victim@example.org\r\nSubject: %s\r\n'
            'Message-ID: <%x@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: %s\r\n%s\r\n'
            % (subject, rnd.getrandbits(64), ctype, extra)).encode()
def w(name, *chunks):
    with open(os.path.join(out, name), 'wb') as f:
        for c in chunks:
            f.write(c)
# 100 MB single part, 100 MB of headers
w('big-single-part', hdr('big'), b'cheap meds online now ' * (100 * MB // 22))
w('huge-headers', b''.join(b'X-Filler-%d: %s\r\n' % (i, b'h' * 1000) for i in range(100 * 1024)), hdr('headers'), b'body\r\n')
# 100,000 tiny MIME parts; nesting 10,000 deep; a boundary that never closes
w('many-parts', hdr('parts', 'multipart/mixed; boundary="p"'),
  b''.join(b'--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n' % i for i in range(100000)), b'--p--\r\n')
w('deep-nesting', hdr('deep', 'multipart/mixed; boundary="d0"'),
  b''.join(b'--d%d\r\nContent-Type: multipart/mixed; boundary="d%d"\r\n\r\n' % (i, i + 1) for i in range(10000)),
  b'--d10000\r\n\r\nleaf\r\n')
w('unclosed-boundary', hdr('open', 'multipart/mixed; boundary="never"'),
  b'--never\r\nContent-Type: text/plain\r\n\r\n', b'this text goes on and on\r\n' * 100000)
# base64 with garbage every other byte; QP soft breaks at every byte
enc = bytearray(base64.encodebytes(os.urandom(3 * MB)))
enc[0::2] = bytes(rnd.choice(b'!#$%&*()<>?~') for _ in range(len(enc[0::2])))
w('base64-garbage', hdr('b64', extra='Content-Transfer-Encoding: base64\r\n'), bytes(enc))
w('qp-soft-breaks', hdr('qp', extra='Content-Transfer-Encoding: quoted-printable\r\n'),
  b''.join(b'%c=\r\n' % rnd.choice(b'abcde=') for _ in range(2 * MB)))
# a charset that lies; invalid UTF-8; NUL bytes
w('lying-charset', hdr('charset', 'text/plain; charset=utf-16'), 'Grüße aus Köln, 東京 '.encode() * 50000)
w('lying-charset-2', hdr('charset', 'text/plain; charset=iso-2022-jp'), b'\x1b$B' + bytes(rnd.getrandbits(8) for _ in range(MB)))
w('invalid-utf8', hdr('utf8', 'text/plain; charset=utf-8'),
  bytes(rnd.choice([0xc0, 0xc1, 0xf5, 0xff, 0xed, 0xa0, 0x80, 0xe2, 0x41, 0x20]) for _ in range(MB)))
w('nul-bytes', b'Subject: nul\x00here\r\nFrom: a\x00b@example.net\r\n\r\n', b'nul\x00in\x00the\x00body ' * 100000)
# a 1 MB single word; an HTML bomb of nested tags; a million URLs
w('one-huge-word', hdr('word'), b'x' * MB)
w('html-bomb', hdr('html', 'text/html'), b'<div><span><b>' * 100000, b'payload', b'</b></span></div>' * 100000)
w('million-urls', hdr('urls', 'text/html'),
  b''.join(b'<a href="http://u%d.example.com/%d">l</a> http://t%d.example.org/\n' % (i, i, i) for i in range(1000000)))
PY

fails=0
for m in "$t"/mail/*; do
	n=$(basename "$m")
	/usr/bin/time -f '%M %e' -o "$t/time" timeout 120 "$BC" --db "$t/db" check "$m" >"$t/out" 2>"$t/err"
	rc=$?
	read -r kb s <"$t/time" 2>/dev/null || { kb=0 s=?; }
	# time writes "Command exited with non-zero status N" first on failure
	[ "$kb" = Command ] && { kb=$(tail -1 "$t/time" | cut -d' ' -f1); s=$(tail -1 "$t/time" | cut -d' ' -f2); }
	why=
	if [ "$rc" -ge 124 ]; then why="killed or timed out (exit $rc)"
	elif grep -q 'Sanitizer\|runtime error' "$t/err"; then why="sanitizer: $(grep -m1 'ERROR\|runtime error' "$t/err")"
	elif [ "$rc" -ge 1 ] && [ "$rc" -lt 64 ]; then why="exit $rc: neither scored nor an error status"
	elif [ "$rc" -eq 0 ] && ! grep -q '^Probability:' "$t/out"; then why="exit 0 without a score"
	elif [ "$rc" -gt 0 ] && ! [ -s "$t/err" ]; then why="exit $rc without a reason"
	elif [ "$kb" -gt "$HOSTILE_MAX_KB" ]; then why="peak RSS $kb kB > $HOSTILE_MAX_KB kB"
	elif ! python3 -c "import sys; sys.exit(0 if float('$s') <= $HOSTILE_MAX_S else 1)"; then
		why="took $s s > $HOSTILE_MAX_S s"
	fi
	what=$(grep -m1 '^Probability:' "$t/out" || head -1 "$t/err")
	if [ -z "$why" ]; then echo "ok - $n: $kb kB, $s s ($what)"
	else echo "not ok - $n: $why"; fails=$((fails + 1)); fi
	rm -f "$m"
done
echo "bounds: $HOSTILE_MAX_KB kB peak RSS, $HOSTILE_MAX_S s per message"
[ "$fails" -eq 0 ]
