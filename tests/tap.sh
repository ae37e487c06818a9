# tap.sh - what every integration test shares, sourced from the project
# root: "ok - " / "not ok - " lines counted in $fails, and a free loopback
# TCP port (the kernel's choice, released before use; the tests run one at
# a time, so nobody takes it in between).
fails=0
ok() { echo "ok - $1"; }
no() { echo "not ok - $1"; fails=$((fails + 1)); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
