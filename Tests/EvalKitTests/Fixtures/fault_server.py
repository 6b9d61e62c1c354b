#!/usr/bin/env python3
"""A fault-injecting OpenAI-compatible server for evalkit's reliability tests (standard library only).

Binds 127.0.0.1 on a free port and prints the port first. Each request's fault depends only on
its prompt (a hash picks the kind, so the schedule is seeded and independent of arrival order)
and on how many times this server has seen that prompt:
  kind 0: 500 every time                      kind 1: 429 with Retry-After: 1, then answers
  kind 2: 503 twice, then answers             kind 3: hangs 6 s the first time, then answers
  kind 4: resets the connection once          kind 5: a malformed (non-JSON) body every time
  kinds 6-9: answers at once
Answers are "positive" / "negative" / "neutral" by keyword. Every request is logged as a JSON
line {"prompt_sha", "attempt", "kind"} to the file named by the first argument.
Optional second argument: seconds to wait before every answer (to make runs slow); third: the port.
"""
import hashlib, json, signal, socket, struct, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[1]
DELAY = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
seen = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=None, raw=None, headers=()):
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.reply(200, {"data": []})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        prompt = body["messages"][-1]["content"] if "messages" in body else body.get("prompt", "")
        sha = hashlib.sha256(prompt.encode()).hexdigest()
        kind = int(sha[:8], 16) % 10
        with lock:
            seen[sha] = seen.get(sha, 0) + 1
            attempt = seen[sha]
            with open(LOG, "a") as log:
                log.write(json.dumps({"prompt_sha": sha, "attempt": attempt, "kind": kind}) + "\n")
        if DELAY:
            time.sleep(DELAY)
        if kind == 0:
            return self.reply(500, {"error": {"message": "injected failure"}})
        if kind == 1 and attempt == 1:
            return self.reply(429, {"error": {"message": "slow down"}}, headers=[("Retry-After", "1")])
        if kind == 2 and attempt <= 2:
            return self.reply(503, {"error": {"message": "overloaded"}})
        if kind == 3 and attempt == 1:
            time.sleep(6)
            return self.reply(200, {"choices": [{"message": {"content": "late"}}]})
        if kind == 4 and attempt == 1:
            # RST instead of an answer.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        if kind == 5:
            return self.reply(200, raw=b'{"choices": [ {"message": ')
        text = prompt.lower()
        answer = "positive" if ("love" in text or "great" in text) else ("negative" if ("hate" in text or "awful" in text) else "neutral")
        self.reply(200, {"choices": [{"message": {"role": "assistant", "content": answer}}],
                         "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": 1}})


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    # An optional third argument fixes the port (for tests that start it as a managed server).
    # A backlog of 5 (the default) drops handshakes when a loaded machine accepts a burst late.
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[3]) if len(sys.argv) > 3 else 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
