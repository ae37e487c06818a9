#!/usr/bin/env python3
# milter-send.py HOST:PORT FILE - play one SMTP transaction of FILE to a
# milter the way an MTA does (milter protocol 6), without an MTA, and print
# what the milter decided, one line:
#   accept <header: value>...      accepted (with the headers it added)
#   tempfail <code> <text>         4xx (smfi_setreply or SMFIS_TEMPFAIL)
#   reject <code> <text>           5xx
#   error <why>                    no answer / protocol trouble
# Exit 0 on accept, 1 on tempfail/reject, 2 on error. Used by faults.sh
# to see what a message gets when the database is gone (on_error).
import socket
import struct
import sys

NO_BITS = {'C': 0x1, 'H': 0x2, 'M': 0x4, 'R': 0x8, 'B': 0x10, 'L': 0x20, 'N': 0x40, 'T': 0x200}
NR_BITS = {'C': 0x1000, 'H': 0x2000, 'M': 0x4000, 'R': 0x8000, 'T': 0x10000, 'N': 0x40000,
           'B': 0x80000, 'L': 0x80}


def packet(cmd, data=b''):
    return struct.pack('>I', len(data) + 1) + cmd.encode() + data


def recv_exact(s, n):
    b = b''
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError('milter closed the connection')
        b += c
    return b


def recv(s):
    n = struct.unpack('>I', recv_exact(s, 4))[0]
    d = recv_exact(s, n)
    return chr(d[0]), d[1:]


def main():
    host, port = sys.argv[1].rsplit(':', 1)
    msg = open(sys.argv[2], 'rb').read().replace(b'\r\n', b'\n')
    head, _, body = msg.partition(b'\n\n')
    headers = []
    for line in head.split(b'\n'):
        if line[:1] in (b' ', b'\t') and headers:
            headers[-1][1] += b'\r\n' + line
        elif b':' in line:
            k, v = line.split(b':', 1)
            headers.append([k, v.lstrip()])
    s = socket.create_connection((host, int(port)), 10)
    s.settimeout(30)
    s.sendall(packet('O', struct.pack('>III', 6, 0x1ff, 0x1fffff)))
    cmd, d = recv(s)
    if cmd != 'O':
        print('error no option negotiation reply (%r)' % cmd)
        return 2
    proto = struct.unpack('>III', d[:12])[2]
    added = []

    def step(cmd, data=b''):
        """send; None to go on, else the final line"""
        if proto & NO_BITS.get(cmd, 0):
            return None
        s.sendall(packet(cmd, data))
        if proto & NR_BITS.get(cmd, 0):
            return None
        while True:
            r, rd = recv(s)
            if r in ('c', 'a'):
                return None if r == 'c' or cmd != 'E' else 'accept'
            if r == 't':
                return 'tempfail 451 (no text)'
            if r == 'r':
                return 'reject 550 (no text)'
            if r == 'y':
                text = rd.rstrip(b'\0').decode('utf-8', 'replace')
                return ('tempfail ' if text.startswith('4') else 'reject ') + text
            if r == 'h':
                k, v = rd.split(b'\0')[:2]
                added.append('%s: %s' % (k.decode(), v.decode()))
            elif r == 'i':
                k, v = rd[4:].split(b'\0')[:2]
                added.append('%s: %s' % (k.decode(), v.decode()))
            elif r in ('m', 'p', 'e', 'f', 'b', 'q', 'l', '+', '-', '2', 'x'):
                pass    # other modifications: ignored here
            else:
                raise EOFError('unexpected reply %r' % r)

    s.sendall(packet('D', b'C' + b'j\0mx.example.org\0'))
    steps = [('C', b'client.example.net\x004' + struct.pack('>H', 2525) + b'192.0.2.7\0'),
             ('H', b'client.example.net\0'), ('M', b'<a@example.net>\0'),
             ('R', b'<b@example.org>\0'), ('T', b'')]
    steps += [('L', k + b'\0' + v + b'\0') for k, v in headers]
    steps += [('N', b'')]
    for i in range(0, len(body), 65535):
        steps.append(('B', body[i:i + 65535]))
    for cmd, data in steps:
        if cmd == 'M':
            s.sendall(packet('D', b'M' + b'i\0F00D1234\0'))
        r = step(cmd, data)
        if r:
            print(r)
            return 1
    r = step('E')
    s.sendall(packet('Q'))
    s.close()
    if r is None:
        r = 'accept'
    if r == 'accept':
        print('accept ' + ' | '.join(added))
        return 0
    print(r)
    return 1


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (OSError, EOFError, ValueError, struct.error) as e:
        print('error %s' % e)
        sys.exit(2)
