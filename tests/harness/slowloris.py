#!/usr/bin/env python3
"""slowloris.py - hold N slow POST requests open against a loopback HTTP port.

usage: slowloris.py PORT N SECONDS [--rate R] [--ready FILE]

Opens N connections to 127.0.0.1:PORT (loopback only), each sending a POST
head with Content-Length: 100000 and 3 bytes of body, then nothing. A
connection the server closes is opened again, at most R a second (default
200) and 10 * N in all, so N are kept trying for SECONDS; SIGTERM ends it
early. Writes FILE once the first N are out, and prints at the end
"opened=.. closed_by_server=.. open_at_end=.. max_open=..".
"""
import resource, select, signal, socket, sys, time

HEAD = (b"POST /check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: message/rfc822\r\n"
        b"Content-Length: 100000\r\n\r\nabc")
stop = False


def on_term(*_):
    global stop
    stop = True


def main():
    a = sys.argv[1:]
    if len(a) < 3:
        sys.exit(__doc__)
    port, n, secs = int(a[0]), int(a[1]), float(a[2])
    rate = float(a[a.index("--rate") + 1]) if "--rate" in a else 200.0
    ready = a[a.index("--ready") + 1] if "--ready" in a else None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, n + 256)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    signal.signal(signal.SIGTERM, on_term)
    poll = select.poll()
    conns = {}          # fd -> [socket, head sent]
    opened = closed = max_open = reopened = 0

    def open_one():
        nonlocal opened
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            return False
        conns[s.fileno()] = [s, False]
        poll.register(s.fileno(), select.POLLOUT | select.POLLIN)
        opened += 1
        return True

    def drop(fd):
        nonlocal closed
        poll.unregister(fd)
        conns.pop(fd)[0].close()
        closed += 1

    for _ in range(n):
        open_one()
    start = time.time()
    wrote_ready = False
    while not stop and time.time() < start + secs:
        for fd, ev in poll.poll(100):
            if fd not in conns:
                continue
            s, sent = conns[fd]
            try:
                if ev & (select.POLLERR | select.POLLHUP):
                    drop(fd)
                elif ev & select.POLLOUT and not sent:
                    s.send(HEAD)
                    conns[fd][1] = True
                    poll.modify(fd, select.POLLIN)
                elif ev & select.POLLIN and s.recv(4096) == b"":
                    drop(fd)
            except OSError:
                if fd in conns:
                    drop(fd)
        live = sum(1 for v in conns.values() if v[1])
        max_open = max(max_open, live)
        if ready and not wrote_ready and all(v[1] for v in conns.values()) or \
                (ready and not wrote_ready and time.time() > start + 5):
            with open(ready, "w") as f:
                f.write("%d\n" % live)
            wrote_ready = True
        k = min(n - len(conns), int(rate * (time.time() - start)) - reopened, 10 * n - reopened)
        for _ in range(max(0, k)):
            if open_one():
                reopened += 1
    live = sum(1 for v in conns.values() if v[1])
    print("opened=%d closed_by_server=%d open_at_end=%d max_open=%d" % (opened, closed, live, max_open),
          flush=True)


main()
