#!/bin/sh
# webui.sh - the scan history and the web page, end to end: messages pass
# through a real Postfix (tests/harness/postfix-harness) into bayesd, and a
# headless Chromium (Debian chromium, driven over its DevTools protocol by
# tests/harness/cdp.py) logs in to the controller's page on TCP. Asserts:
#   - /history lists every message with the action it got (reject for the
#     spam, accept for the hams) and its sender
#   - the page, after the login form, shows the rows; a message whose
#     Subject and From are "<script>..." shows them as text (no element
#     was created from them, the text is there verbatim)
#   - clicking "Learn as ham" on the rejected row moves the counts:
#     bayesc stat's ham count goes up by one, and spam down by one when
#     the page says "relearned" (the spam was one of the trained messages)
#   - a learn by digest without the CSRF token is refused (403)
#   - the detail view shows the deciding features
# Screenshots go to tests/out/webui-*.png. Exits 1 on any failure, 77 when
# Postfix or Chromium is missing. KEEP=1 keeps the work directory.
PH="$(cd "$(dirname "$0")/../harness" 2>/dev/null && pwd)/postfix-harness"
CDP="$(cd "$(dirname "$0")/../harness" && pwd)/cdp.py"
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (a private Postfix master)"; exit 77; fi
PATH=$PATH:/usr/sbin:/sbin
for c in postfix smtp-sink python3 curl chromium; do
	command -v $c >/dev/null 2>&1 || { echo "SKIP: $c not installed (./configure --install-deps)"; exit 77; }
done
cd "$(dirname "$0")/../.." || exit 1
BD=${BAYESD:-$PWD/bayesd}
BC=${BAYESC:-$PWD/bayesc}
OUT=$PWD/tests/out
mkdir -p "$OUT"
t=$(mktemp -d /tmp/bayesd-webui.XXXXXX) || exit 1
chmod 755 "$t"
pid= pf=0 cpid=
cleanup() {
	[ $pf = 1 ] && "$PH" stop "$t/pf" >/dev/null 2>&1
	[ -n "$cpid" ] && kill "$cpid" 2>/dev/null
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && sleep 0.5
	if [ "${KEEP:-0}" = 1 ]; then echo "(kept $t)"; else rm -rf "$t"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
. tests/tap.sh
port_open() { python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(0.3); sys.exit(s.connect_ex(("127.0.0.1",int(sys.argv[1]))))' "$1"; }

m=$t/msgs
mkdir -p "$t/bd" "$t/www"
sample_messages "$m"
cp milter/www/* "$t/www/"
# a message whose Subject and From try to run script in the page
{ printf 'From: "<script>alert(1)</script>" <evil@example.com>\nTo: x@example.net\nSubject: <script>document.title="pwned"</script><img src=x onerror=alert(2)>\nMessage-ID: <xss@example.com>\n\nhello there, plain text\n'; } >"$m/xss.eml"

db=$t/bd/db.sqlite
"$BC" --db "$db" learn_spam "$m"/spam-*.eml >"$t/learn.out" 2>&1 &&
	"$BC" --db "$db" learn_ham "$m"/ham-*.eml >>"$t/learn.out" 2>&1 ||
	{ no "offline training failed: $(tail -1 "$t/learn.out")"; exit 1; }

mport=$(free_port) cport=$(free_port) dport=$(free_port)
conf=$t/bd/bayesd.conf
cat >"$conf" <<EOC
milter_socket = inet:$mport@127.0.0.1
controller_socket = $t/bd/ctl.sock
controller_bind = 127.0.0.1:$cport
controller_password = s3cret
database = $db
history_database = $t/bd/history.sqlite
www_dir = $t/www
pidfile = $t/bd/bayesd.pid
reject_threshold = 0.9
# few messages are learned, and they come from loopback (the harness)
min_learns = 0
score_local = yes
EOC
"$BD" -f -c "$conf" </dev/null >"$t/bayesd.log" 2>&1 &
pid=$!
i=0
while [ $i -lt 150 ] && ! port_open "$mport"; do sleep 0.1; i=$((i + 1)); done
[ $i -lt 150 ] && ok "bayesd started" || { no "bayesd did not start: $(tail -2 "$t/bayesd.log")"; exit 1; }

if "$PH" start "$t/pf" --untrusted --milter "inet:$mport@127.0.0.1" >"$t/pf.start" 2>&1; then
	pf=1; ok "private Postfix started"
else
	no "private Postfix failed: $(tail -2 "$t/pf.start")"; exit 1
fi
r_spam=$("$PH" send "$t/pf" "$SPAM" --to spam-1@example.net 2>&1)
r_ham=$("$PH" send "$t/pf" "$HAM" --to ham-1@example.net 2>&1)
r_xss=$("$PH" send "$t/pf" "$m/xss.eml" --to xss-1@example.net 2>&1)
case $r_spam in 5*) ok "spam rejected at SMTP: $r_spam" ;; *) no "spam not rejected: $r_spam" ;; esac
case $r_ham in 250*) ok "ham accepted" ;; *) no "ham: $r_ham" ;; esac
sleep 1	# the writer thread writes the rows

S="$t/bd/ctl.sock"
hist=$(curl -s --unix-socket "$S" http://l/history)
echo "$hist" >"$t/history.json"
n=$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rows"]))' <"$t/history.json")
[ "$n" -ge 3 ] && ok "/history has $n rows" || no "/history: $hist"
acts=$(python3 -c 'import json,sys
for r in json.load(sys.stdin)["rows"]: print(r["recipients"], r["action"])' <"$t/history.json" | sort | tr '\n' ' ')
case $acts in
*"ham-1@example.net> accept"*"spam-1@example.net> reject"*) ok "history actions: $acts" ;;
*) no "history actions: $acts" ;;
esac
rej=$(curl -s --unix-socket "$S" 'http://l/history?action=reject' | python3 -c 'import json,sys; r=json.load(sys.stdin)["rows"]; print(len(r), r[0]["digest"] if r else "")')
case $rej in "1 "*) ok "filter action=reject: one row" ;; *) no "filter action=reject: $rej" ;; esac
bh=$("$BC" -s "$S" history --action reject)
case $(echo "$bh" | wc -l):$bh in
2:*" reject "*"Cheap"*) ok "bayesc history --action reject: $(echo "$bh" | tail -1)" ;;
*) no "bayesc history --action reject: $bh" ;;
esac
nj=$("$BC" -s "$S" --json history -n 2 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rows"]))')
[ "$nj" = 2 ] && ok "bayesc --json history -n 2: 2 rows" || no "bayesc --json history -n 2: $nj"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --unix-socket "$S" "http://l/learn_ham?digest=${rej#* }")
[ "$code" = 403 ] && ok "learn by digest without CSRF token: 403" || no "learn by digest without CSRF token: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$cport/history")
[ "$code" = 403 ] && ok "TCP /history without password: 403" || no "TCP /history without password: $code"

before=$("$BC" -s "$S" --json stat)
b_ham=$(echo "$before" | python3 -c 'import json,sys; print(json.load(sys.stdin)["learned_ham"])')
b_spam=$(echo "$before" | python3 -c 'import json,sys; print(json.load(sys.stdin)["learned_spam"])')

chromium --headless=new --no-sandbox --disable-gpu --remote-debugging-port=$dport --user-data-dir="$t/chrome" \
	--no-first-run about:blank >"$t/chromium.log" 2>&1 &
cpid=$!
i=0
while [ $i -lt 150 ] && ! port_open "$dport"; do sleep 0.1; i=$((i + 1)); done
[ $i -lt 150 ] && ok "headless Chromium started" || { no "Chromium did not start: $(tail -3 "$t/chromium.log")"; exit 1; }
cdp() { python3 "$CDP" "$dport" "$@"; }
cdp goto "http://127.0.0.1:$cport/"
sleep 1
cdp shot "$OUT/webui-login.png"
vis=$(cdp eval '!document.getElementById("login").hidden')
[ "$vis" = true ] && ok "the page shows the login form on TCP" || no "login form visible: $vis"
cdp eval 'document.getElementById("password").value="s3cret"; document.querySelector("#login-form button").click(); true' >/dev/null
sleep 2
rows=$(cdp eval 'document.querySelectorAll("#rows tbody tr").length')
[ "${rows:-0}" -ge 3 ] && ok "the page lists $rows history rows" || no "page rows: $rows"
cdp shot "$OUT/webui-history.png"
xss=$(cdp eval 'JSON.stringify([document.title, document.querySelectorAll("#rows script, #rows img").length, Array.from(document.querySelectorAll("#rows td")).some(function(td){return td.textContent.indexOf("<script>document.title")===0}), Array.from(document.querySelectorAll("#rows td")).some(function(td){return td.textContent.indexOf("\"<script>alert(1)</script>\"")===0})])')
case $xss in
'"[\"bayesd\",0,true,true]"') ok "<script> Subject and From shown as text, nothing ran: $xss" ;;
*) no "<script> Subject/From: $xss" ;;
esac
# click "Learn as ham" on the rejected row
clicked=$(cdp eval 'var tr=document.querySelector("#rows tbody tr.reject"); if (tr) tr.querySelector("button.row-ham").click(); !!tr')
[ "$clicked" = true ] && ok "clicked Learn as ham on the rejected row" || no "no rejected row on the page"
sleep 2
said=$(cdp eval 'document.getElementById("msg").textContent')
after=$("$BC" -s "$S" --json stat)
a_ham=$(echo "$after" | python3 -c 'import json,sys; print(json.load(sys.stdin)["learned_ham"])')
a_spam=$(echo "$after" | python3 -c 'import json,sys; print(json.load(sys.stdin)["learned_spam"])')
# the rejected spam is one of the trained ones: its digest is known as spam,
# so the learn is a relearn and moves one message from spam to ham
case $said in *relearned*) w_spam=$((b_spam - 1)) ;; *) w_spam=$b_spam ;; esac
if [ "$a_ham" = $((b_ham + 1)) ] && [ "$a_spam" = "$w_spam" ]; then
	ok "bayesc stat: ham $b_ham -> $a_ham, spam $b_spam -> $a_spam (page said: $said)"
else
	no "bayesc stat after the click: ham $b_ham -> $a_ham, spam $b_spam -> $a_spam (page said: $said)"
fi
cdp shot "$OUT/webui-learned.png"
# the detail view of the rejected row
cdp eval 'document.querySelector("#rows tbody tr.reject td").click(); true' >/dev/null
sleep 1
nf=$(cdp eval 'document.querySelectorAll("#d-features tbody tr").length')
[ "${nf:-0}" -ge 1 ] && ok "detail view shows $nf deciding features" || no "detail features: $nf"
cdp shot "$OUT/webui-detail.png"
grep -q "learn_ham digest=" "$t/bayesd.log" && ok "log: $(grep -m1 'learn_ham digest=' "$t/bayesd.log" | sed 's/.*controller: //')" || no "no learn_ham digest log line"

# the ring: after a reload with history_size = 10, twelve more messages
# (straight to the milter) leave exactly the newest 10 rows
MS=$PWD/tests/integration/milter-send.py
echo "history_size = 10" >>"$conf"
kill -HUP "$pid"; sleep 1
i=0
while [ $i -lt 12 ]; do python3 "$MS" "127.0.0.1:$mport" "$HAM" >/dev/null 2>&1; i=$((i + 1)); done
sleep 1
ring=$(curl -s --unix-socket "$S" 'http://l/history?limit=500' | python3 -c 'import json,sys
j=json.load(sys.stdin); ids=[r["id"] for r in j["rows"]]; print(j["total"], len(ids), max(ids)-min(ids)+1, max(ids))')
case $ring in "10 10 10 15") ok "history_size = 10: the newest 10 of 15 rows kept ($ring)" ;;
*) no "history ring after 15 messages with history_size = 10: total, rows, span, newest id: $ring" ;; esac
# history = no: a scored message leaves no row
echo "history = no" >>"$conf"
kill -HUP "$pid"; sleep 1
python3 "$MS" "127.0.0.1:$mport" "$HAM" >/dev/null 2>&1; sleep 1
newest=$(curl -s --unix-socket "$S" 'http://l/history?limit=1' | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"][0]["id"])')
[ "$newest" = 15 ] && ok "history = no: no new row" || no "history = no: newest row is $newest, expected 15"
[ "${fails:-0}" = 0 ]
