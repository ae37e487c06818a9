"""sinkmail.py - what the project's MTA harnesses share: sending a message
over SMTP to a loopback port, and reading what Postfix's smtp-sink saved.

Used by tests/harness/postfix-harness (and any harness whose next hop is
smtp-sink writing one file per message under DIR/sink/).
"""
import os
import re
import smtplib
import socket
import sys
import time
from email import policy
from email.parser import BytesHeaderParser


def port_open(port, host="127.0.0.1"):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_port(port, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if port_open(port):
            return True
        time.sleep(0.1)
    return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def greets(port, seconds=10):
    """True when an SMTP server on 127.0.0.1:port says 220 within seconds."""
    try:
        with socket.create_connection(("127.0.0.1", port), seconds) as s:
            s.settimeout(seconds)
            banner = s.recv(512)
            s.sendall(b"QUIT\r\n")
            return banner.startswith(b"220")
    except OSError:
        return False


def send(port, path, frm, to):
    """SMTP-send the message in path; print the last reply; the exit code:
    0 for 2xx, 2 for 4xx, 1 for 5xx, 3 when no SMTP exchange happened."""
    data = open(path, "rb").read()
    if data.startswith(b"From "):          # an mbox separator line is no header
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    data = re.sub(rb"\r?\n", b"\r\n", data)

    def reply(code, msg):
        if isinstance(msg, bytes):
            msg = msg.decode("utf-8", "replace")
        print("%d %s" % (code, " ".join(str(msg).split())))
        return 0 if 200 <= code < 300 else 2 if 400 <= code < 500 else 1

    try:
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.localdomain", timeout=60)
        s.ehlo()
        code, msg = s.mail(frm)
        if code != 250:
            return reply(code, msg)
        code, msg = s.rcpt(to)
        if code not in (250, 251):
            return reply(code, msg)
        code, msg = s.data(data)
        try:
            s.quit()
        except (OSError, smtplib.SMTPException):
            pass
        return reply(code, msg)
    except smtplib.SMTPResponseException as e:
        return reply(e.smtp_code, e.smtp_error)
    except (OSError, smtplib.SMTPException) as e:
        print("000 no SMTP exchange: %s" % e)
        return 3


def sink_files(sink):
    files = [os.path.join(d, f) for d, _, fs in os.walk(sink) for f in fs]
    files.sort(key=lambda p: (os.stat(p).st_mtime, p))
    return files


def delivered(sink, count, headers):
    """Print the captured messages: file, envelope recipient, then each header
    (tab-separated, "-" when absent, " | " between repeats), or only the count."""
    files = sink_files(sink)
    if count:
        print(len(files))
        return 0
    headers = headers or ["Subject", "X-Spam-Status", "X-Spam-Flag"]

    def flat(v):
        return " ".join(str(v).split())

    for p in files:
        with open(p, "rb") as f:
            h = BytesHeaderParser(policy=policy.compat32).parse(f)
        rcpt = flat(h.get("X-Rcpt-Args", "")).split()    # smtp-sink -d records RCPT TO
        row = [p, rcpt[0] if rcpt else "-"]
        for name in headers:
            vals = h.get_all(name)
            row.append(" | ".join(flat(v) for v in vals) if vals else "-")
        print("\t".join(row))
    return 0


def wait(sink, n, seconds):
    end = time.time() + seconds
    c = 0
    while True:
        c = len(sink_files(sink))
        if c >= n or time.time() >= end:
            break
        time.sleep(0.1)
    print(c)
    return 0 if c >= n else 1


def clear(sink):
    for p in sink_files(sink):
        os.unlink(p)
    return 0


def alive(pid):
    try:
        return pid > 0 and os.kill(pid, 0) is None
    except (OSError, ValueError):
        return False


def stop_pid(pid, seconds=5):
    """SIGTERM, then SIGKILL after seconds."""
    if not alive(pid):
        return
    os.kill(pid, 15)
    end = time.time() + seconds
    while alive(pid) and time.time() < end:
        time.sleep(0.1)
    if alive(pid):
        os.kill(pid, 9)


def die(tool, msg):
    sys.stderr.write("%s: %s\n" % (tool, msg))
    sys.exit(1)
