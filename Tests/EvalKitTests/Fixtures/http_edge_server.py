#!/usr/bin/env python3
"""An OpenAI-compatible chat server on raw sockets for the HTTP transport's tests (standard library only).

It frames answers the ways HTTP/1.1 allows, chosen by a word in the last message:
  CHUNKED      chunked transfer coding, written in pieces that split chunk lines, with a trailer
  TRICKLE      Content-Length body written 7 bytes at a time
  CLOSEFRAMED  no Content-Length: the body ends when the server closes the connection
  CONTINUE     an interim "100 Continue" before the answer
  CLOSEAFTER   a normal keep-alive answer, then the server closes the connection anyway
  DROPNEXT     a normal keep-alive answer; the connection's next request is read, logged and closed
               unanswered, as a server closing an idle connection just as a request arrives
  GARBAGE      something that is not HTTP, then close
  TRUNCATED    Content-Length 200 but 20 bytes, then close
  HUGECHUNK    a chunk size of 7fffffffffffffff, then close
  HUGETOKENS   "prompt_tokens": 1e300 and "completion_tokens": -4 in an otherwise normal answer
  OTHERCODING  Transfer-Encoding other than chunked with a wrong Content-Length: the body runs to the close
  HUGETRAILER  a chunked body whose trailers go on past 64 KiB
  LARGEANSWER   a chunked answer of 300 KiB in 1 KiB chunks
  (otherwise)  a keep-alive answer with Content-Length
The answer's content is "ok <length of the last message> <connection number>". Binds 127.0.0.1
on a free port and prints it first; logs {"connection", "word", "path", "headers"} per request as a
JSON line to the file named by the first argument.
"""
import json, socket, socketserver, sys, threading, time

LOG = sys.argv[1]
lock = threading.Lock()
connections = [0]
WORDS = ["CHUNKED", "TRICKLE", "CLOSEFRAMED", "CONTINUE", "CLOSEAFTER", "GARBAGE", "TRUNCATED", "HUGECHUNK", "HUGETOKENS",
         "OTHERCODING", "HUGETRAILER", "LARGEANSWER", "DROPNEXT"]


def answer(content):
    return json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 1}}).encode()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        with lock:
            connections[0] += 1
            number = connections[0]
        drop_next = False
        while True:
            line = self.rfile.readline()
            if not line:
                return
            method, path, _ = line.decode().split(" ", 2)
            headers = {}
            while True:
                header = self.rfile.readline().decode()
                if header in ("\r\n", "\n", ""):
                    break
                name, value = header.split(":", 1)
                headers[name.strip().lower()] = value.strip()
            body = self.rfile.read(int(headers.get("content-length", 0)))
            if method == "GET":
                data = b'{"data": []}'
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
                if headers.get("connection") == "close":
                    return
                continue
            text = json.loads(body)["messages"][-1]["content"]
            word = next((w for w in WORDS if w in text), "")
            with lock, open(LOG, "a") as log:
                log.write(json.dumps({"connection": number, "word": word, "path": path, "headers": headers}) + "\n")
            if drop_next:
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            drop_next = word == "DROPNEXT"
            data = answer(f"ok {len(text)} {number}")
            if word == "HUGETOKENS":
                data = data.replace(b'"prompt_tokens": 3', b'"prompt_tokens": 1e300').replace(b'"completion_tokens": 1', b'"completion_tokens": -4')
            out = self.wfile
            if word == "CHUNKED":
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                pieces = [data[i:i + 9] for i in range(0, len(data), 9)]
                stream = head + b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\nX-Trailer: yes\r\n\r\n"
                for i in range(0, len(stream), 5):
                    out.write(stream[i:i + 5]); out.flush(); time.sleep(0.0005)
            elif word == "TRICKLE":
                stream = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data)
                for i in range(0, len(stream), 7):
                    out.write(stream[i:i + 7]); out.flush(); time.sleep(0.0005)
            elif word == "CLOSEFRAMED":
                out.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + data); out.flush()
                return
            elif word == "CONTINUE":
                out.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
            elif word == "GARBAGE":
                out.write(b"HELLO THERE\r\n\r\n"); out.flush()
                return
            elif word == "OTHERCODING":
                out.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: x-custom\r\nContent-Length: 5\r\n\r\n" + data); out.flush()
                return
            elif word == "HUGETRAILER":
                out.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n" % (len(data), data))
                for _ in range(100):
                    out.write(b"X-Pad: " + b"a" * 1000 + b"\r\n")
                out.flush()
                return
            elif word == "LARGEANSWER":
                big = answer("ok " + "x" * 300000)
                pieces = [big[i:i + 1024] for i in range(0, len(big), 1024)]
                out.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n")
            elif word == "HUGECHUNK":
                out.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nabc"); out.flush()
                return
            elif word == "TRUNCATED":
                out.write(b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n" + data[:20]); out.flush()
                return
            else:
                out.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
                if word == "CLOSEAFTER":
                    out.flush()
                    # Close as an idle-timeout would: the client only finds out on its next request.
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
            out.flush()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    # The default backlog of 5 overflows when a loaded machine accepts a burst of connections late; the
    # kernel then drops handshakes and the client waits seconds for SYN-ACK retransmits.
    request_queue_size = 128
    allow_reuse_address = True


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
