#!/usr/bin/env python3
"""cdp.py - drive a headless Chromium through its DevTools protocol, with
the standard library only (a minimal WebSocket client), for the web page
test (tests/integration/webui.sh).

    cdp.py PORT eval JS            -> prints the JSON value of JS (awaited)
    cdp.py PORT goto URL           -> navigates and waits for the load
    cdp.py PORT shot FILE.png      -> a full-page screenshot
"""
import base64, json, os, socket, struct, sys, time, urllib.request

def ws_connect(url):
    assert url.startswith("ws://")
    hostport, path = url[5:].split("/", 1)
    host, port = hostport.split(":")
    s = socket.create_connection((host, int(port)), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, hostport, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    if b" 101 " not in head.split(b"\r\n")[0]:
        raise SystemExit("websocket refused: %r" % head[:80])
    return s

def ws_send(s, text):
    data = text.encode()
    mask = os.urandom(4)
    n = len(data)
    hdr = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
                           if n < 65536 else bytes([0x80 | 127]) + struct.pack(">Q", n))
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit("websocket closed")
        b += c
    return b

def ws_recv(s):
    msg = b""
    while True:
        b0, b1 = recv_exact(s, 2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", recv_exact(s, 2))[0]
        elif n == 127:
            n = struct.unpack(">Q", recv_exact(s, 8))[0]
        msg += recv_exact(s, n)
        if b0 & 0x80:
            return msg.decode()

class Page:
    def __init__(self, port):
        tabs = json.load(urllib.request.urlopen("http://127.0.0.1:%s/json/list" % port))
        page = [t for t in tabs if t.get("type") == "page"][0]
        self.s = ws_connect(page["webSocketDebuggerUrl"])
        self.id = 0

    def call(self, method, **params):
        self.id += 1
        ws_send(self.s, json.dumps({"id": self.id, "method": method, "params": params}))
        while True:
            m = json.loads(ws_recv(self.s))
            if m.get("id") == self.id:
                if "error" in m:
                    raise SystemExit("%s: %s" % (method, m["error"]))
                return m.get("result", {})

def main():
    port, verb, arg = sys.argv[1], sys.argv[2], sys.argv[3]
    p = Page(port)
    if verb == "goto":
        p.call("Page.enable")
        p.call("Page.navigate", url=arg)
        for _ in range(100):
            r = p.call("Runtime.evaluate", expression="document.readyState", returnByValue=True)
            if r["result"].get("value") == "complete":
                break
            time.sleep(0.1)
    elif verb == "eval":
        r = p.call("Runtime.evaluate", expression=arg, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise SystemExit("exception: %s" % json.dumps(r["exceptionDetails"])[:400])
        print(json.dumps(r["result"].get("value")))
    elif verb == "shot":
        p.call("Emulation.setDeviceMetricsOverride", width=1400, height=1000, deviceScaleFactor=1, mobile=False)
        r = p.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(arg, "wb") as f:
            f.write(base64.b64decode(r["data"]))
    else:
        raise SystemExit("unknown verb " + verb)

main()
