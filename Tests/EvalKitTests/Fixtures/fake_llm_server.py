#!/usr/bin/env python3
"""A small OpenAI- and Anthropic-compatible server for evalkit's tests (standard library only).

Binds 127.0.0.1 on a free port and prints the port on its first stdout line. Answers by
keyword: a prompt whose last line of input mentions "love" or "great" is positive, "hate" or
"awful" negative, anything else neutral. Inputs containing FAIL500, NOJSON or NOCHOICES get
those faults (streamed, BADSTREAM and CUTSTREAM: see stream); inputs containing ECHO are echoed back; prompts containing JUDGE are graded as a judge would (see below); ECHOKEY answers with the Authorization header; the key "sk-bad-key" gets a 401. Every request (path, headers that matter, body) is appended as a JSON line to
the log file named by the first argument, so tests can check what was really sent.

Set by the test through the environment: FAKE_DELAY_MS (each completion waits that long),
FAKE_STREAM_GAP_MS (with "stream": true, the pause before each streamed word: default 30), FAKE_STREAM_USAGE=0
(a stream that never carries usage, even when asked), FAKE_SLOTS (at most that many completions are worked on at once, the rest wait: a server whose
throughput saturates at that concurrency), FAKE_FINGERPRINT (sent as "system_fingerprint"), FAKE_SWAP=1 (positive and negative answers trade
places: a server whose answers changed), FAKE_STATUS (every POST answered with that HTTP status: a failing replica),
FAKE_LOGPROBS_LAYOUT=content (likelihood answers in the chat layout llama.cpp's own server writes for /v1/completions:
logprobs.content[0].top_logprobs as an array of {token, logprob}).
Each logged request carries "in_flight": the POSTs being handled at that moment, itself included.

Batch services, as documented: OpenAI's (POST /files multipart with purpose=batch, POST /batches,
GET /batches/{id}, GET /files/{id}/content) and Anthropic's Message Batches (POST /messages/batches,
GET /messages/batches/{id}, GET /messages/batches/{id}/results). A job runs until FAKE_BATCH_RELEASE names a
file that exists (at once without it); with FAKE_BATCH_EXPIRE=1 it expires with the second half of its requests
unanswered; a request whose text holds BATCHFAIL fails inside the job. Each job created is logged.
"""
import json, os, signal, socket, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[1] if len(sys.argv) > 1 else None
DELAY = float(os.environ.get("FAKE_DELAY_MS", "0")) / 1000
STREAM_GAP = float(os.environ.get("FAKE_STREAM_GAP_MS", "30")) / 1000
STREAM_USAGE = os.environ.get("FAKE_STREAM_USAGE") != "0"
SLOTS = threading.Semaphore(int(os.environ["FAKE_SLOTS"])) if os.environ.get("FAKE_SLOTS") else None
FINGERPRINT = os.environ.get("FAKE_FINGERPRINT")
SWAP = os.environ.get("FAKE_SWAP") == "1"
STATUS = int(os.environ["FAKE_STATUS"]) if os.environ.get("FAKE_STATUS") else None
IN_FLIGHT = [0]
IN_FLIGHT_LOCK = threading.Lock()
BATCH_RELEASE = os.environ.get("FAKE_BATCH_RELEASE")
BATCH_EXPIRE = os.environ.get("FAKE_BATCH_EXPIRE") == "1"
FILES, BATCHES = {}, {}
BATCH_LOCK = threading.Lock()


def batch_reply(body, anthropic):
    """A batch request's answer body, or None when it is to fail (BATCHFAIL)."""
    text = body["messages"][-1]["content"] if "messages" in body else body.get("prompt", "")
    if "BATCHFAIL" in text:
        return None
    answer, tokens = classify(text), len(text.split())
    if anthropic:
        return {"type": "message", "role": "assistant", "content": [{"type": "text", "text": answer}], "usage": {"input_tokens": tokens, "output_tokens": 2}}
    choice = {"index": 0, "message": {"role": "assistant", "content": answer}} if "messages" in body else {"index": 0, "text": " " + answer}
    return {"id": "cmpl-b", "choices": [choice], "usage": {"prompt_tokens": tokens, "completion_tokens": 2, "total_tokens": tokens + 2}}


def finish_batch(batch):
    """Runs a job's requests once it is released: the answers, failures and expired requests it ends with."""
    if "results" in batch:
        return
    results = []
    for i, (custom_id, body) in enumerate(batch["requests"]):
        if BATCH_EXPIRE and i >= len(batch["requests"]) // 2:
            results.append((custom_id, "expired", None))
        else:
            reply = batch_reply(body, batch["anthropic"])
            results.append((custom_id, "succeeded" if reply else "errored", reply))
    batch["results"] = results


def classify(text):
    tail = text.strip().splitlines()[-2:] if text.strip() else [""]
    tail = " ".join(tail).lower()
    if "love" in tail or "great" in tail:
        return "negative" if SWAP else "Positive."
    if "hate" in tail or "awful" in tail:
        return "Positive." if SWAP else "negative"
    return "I think it is neutral"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes: without this, Nagle holds the body for the client's
        # delayed ACK (40 ms), which would be the server's, not evalkit's, time.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def reply(self, status, body, raw=None):
        if status == 200 and isinstance(body, dict) and "choices" in body:
            if DELAY:
                if SLOTS:
                    with SLOTS:
                        time.sleep(DELAY)
                else:
                    time.sleep(DELAY)
            if FINGERPRINT:
                body["system_fingerprint"] = FINGERPRINT
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def stream(self, answer, chat, usage, include_usage, fault=None):
        """Server-sent events as OpenAI and llama.cpp send them: one chunk a word, usage last when asked.
        fault BADSTREAM: an event whose data is not JSON after the first word; CUTSTREAM: the body ends after the
        first word, without [DONE] or the chunked terminator."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(obj):
            data = ("data: " + (obj if isinstance(obj, str) else json.dumps(obj)) + "\n\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        if chat:
            event({"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
        words = answer.split(" ")
        for i, word in enumerate(words):
            time.sleep(STREAM_GAP)
            piece = (" " if i > 0 or not chat else "") + word
            choice = {"index": 0, "delta": {"content": piece}} if chat else {"index": 0, "text": piece}
            event({"id": "c", "choices": [dict(choice, finish_reason=None)]})
            if fault == "BADSTREAM":
                event("{\"id\": \"c\", \"choices\": [<html>proxy error")
            if fault == "CUTSTREAM":
                self.close_connection = True
                return
        done = {"index": 0, "delta": {}} if chat else {"index": 0, "text": ""}
        event({"id": "c", "choices": [dict(done, finish_reason="stop")]})
        if include_usage and STREAM_USAGE:
            event({"id": "c", "choices": [], "usage": usage})
        event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def do_GET(self):
        if self.path.endswith("/models"):
            self.reply(200, {"object": "list", "data": [{"id": "fake"}]})
        elif "/batches/" in self.path or (self.path.startswith("/v1/files/") and self.path.endswith("/content")):
            self.batch_get()
        else:
            self.reply(404, {"error": {"message": "not found"}})

    def batch_get(self):
        released = not BATCH_RELEASE or os.path.exists(BATCH_RELEASE)
        parts = self.path.strip("/").split("/")
        with BATCH_LOCK:
            if parts[1] == "files":
                data = FILES.get(parts[2])
                return self.reply(200, None, raw=data) if data is not None else self.reply(404, {"error": {"message": "no such file"}})
            batch = BATCHES.get(parts[-1] if parts[-1] != "results" else parts[-2])
            if batch is None:
                return self.reply(404, {"error": {"message": "no such batch"}})
            if released:
                finish_batch(batch)
            results = batch.get("results")
            total = len(batch["requests"])
            if batch["anthropic"]:
                if parts[-1] == "results":
                    lines = []
                    for custom_id, kind, reply in results or []:
                        result = {"type": "succeeded", "message": reply} if kind == "succeeded" else (
                            {"type": "errored", "error": {"type": "error", "error": {"type": "invalid_request_error", "message": "injected batch failure"}}}
                            if kind == "errored" else {"type": "expired"})
                        lines.append(json.dumps({"custom_id": custom_id, "result": result}))
                    return self.reply(200, None, raw=("\n".join(lines) + "\n").encode())
                counts = {k: sum(1 for r in results if r[1] == k) for k in ("succeeded", "errored", "expired")} if results else {}
                return self.reply(200, {"id": batch["id"], "type": "message_batch", "processing_status": "ended" if results else "in_progress",
                                        "request_counts": {"processing": 0 if results else total, "succeeded": counts.get("succeeded", 0),
                                                           "errored": counts.get("errored", 0), "canceled": 0, "expired": counts.get("expired", 0)},
                                        "results_url": f"http://127.0.0.1:{self.server.server_address[1]}/v1/messages/batches/{batch['id']}/results" if results else None})
            job = {"id": batch["id"], "object": "batch", "endpoint": batch["endpoint"], "status": "in_progress",
                   "request_counts": {"total": total, "completed": 0, "failed": 0}}
            if results:
                output = [json.dumps({"id": "r", "custom_id": c, "response": {"status_code": 200, "body": r}, "error": None}) for c, k, r in results if k == "succeeded"]
                errors = [json.dumps({"id": "r", "custom_id": c, "response": {"status_code": 500, "body": {"error": {"message": "injected batch failure"}}}, "error": None})
                          for c, k, r in results if k == "errored"]
                errors += [json.dumps({"id": "r", "custom_id": c, "response": None,
                                       "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}})
                           for c, k, r in results if k == "expired"]
                FILES[batch["id"] + "-out"] = ("\n".join(output) + "\n").encode()
                FILES[batch["id"] + "-err"] = ("\n".join(errors) + "\n").encode() if errors else b""
                job.update({"status": "expired" if BATCH_EXPIRE else "completed", "output_file_id": batch["id"] + "-out",
                            "error_file_id": batch["id"] + "-err" if errors else None,
                            "request_counts": {"total": total, "completed": len(output), "failed": len(errors)}})
            return self.reply(200, job)

    def do_POST(self):
        with IN_FLIGHT_LOCK:
            IN_FLIGHT[0] += 1
            self.in_flight = IN_FLIGHT[0]
        try:
            return self.post()
        finally:
            with IN_FLIGHT_LOCK:
                IN_FLIGHT[0] -= 1

    def post(self):
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        if self.path.endswith("/files"):
            boundary = self.headers.get("Content-Type", "").split("boundary=")[-1].encode()
            parts = raw.split(b"--" + boundary)
            purpose = next((p for p in parts if b'name="purpose"' in p), b"")
            upload = next((p for p in parts if b'name="file"' in p), None)
            if upload is None or not purpose.rstrip(b"\r\n").endswith(b"batch"):
                return self.reply(400, {"error": {"message": "expected a file part and purpose=batch"}})
            with BATCH_LOCK:
                file_id = f"file-{len(FILES) + 1}"
                FILES[file_id] = upload.split(b"\r\n\r\n", 1)[1][:-2]
            return self.reply(200, {"id": file_id, "object": "file", "purpose": "batch"})
        body = json.loads(raw or b"{}")
        if self.path.endswith("/batches"):
            anthropic = self.path.endswith("/messages/batches")
            with BATCH_LOCK:
                if anthropic:
                    requests = [(r["custom_id"], r["params"]) for r in body["requests"]]
                else:
                    lines = [json.loads(l) for l in FILES.get(body.get("input_file_id"), b"").decode().splitlines() if l.strip()]
                    requests = [(l["custom_id"], l["body"]) for l in lines]
                batch_id = ("msgbatch_" if anthropic else "batch_") + str(len(BATCHES) + 1)
                BATCHES[batch_id] = {"id": batch_id, "anthropic": anthropic, "requests": requests, "endpoint": body.get("endpoint")}
            if LOG:
                with open(LOG, "a") as log:
                    log.write(json.dumps({"path": self.path, "batch_id": batch_id, "batch_requests": len(requests), "body": {}}) + "\n")
            if anthropic:
                return self.reply(200, {"id": batch_id, "type": "message_batch", "processing_status": "in_progress",
                                        "request_counts": {"processing": len(requests), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}})
            return self.reply(200, {"id": batch_id, "object": "batch", "status": "validating", "endpoint": body.get("endpoint"),
                                    "input_file_id": body.get("input_file_id"), "completion_window": body.get("completion_window")})
        if LOG:
            with open(LOG, "a") as log:
                log.write(json.dumps({"path": self.path, "authorization": self.headers.get("Authorization"),
                                      "x_api_key": self.headers.get("x-api-key"), "in_flight": self.in_flight,
                                      "anthropic_version": self.headers.get("anthropic-version"), "body": body}) + "\n")
        if STATUS:
            return self.reply(STATUS, {"error": {"message": f"failing with {STATUS} (FAKE_STATUS)"}})
        if self.headers.get("Authorization") == "Bearer sk-bad-key":
            return self.reply(401, {"error": {"message": "Incorrect API key provided: sk-bad-key", "type": "invalid_request_error"}})
        if self.path.endswith("/embeddings"):
            # Letter counts as the vector; model "per-token" answers one vector per word (as llama.cpp can).
            def vector(t):
                return [float(t.lower().count(c)) for c in "abcdefghijklmnopqrstuvwxyz"]
            data = []
            for i, t in enumerate(body["input"]):
                emb = [vector(w) for w in t.split()] or [vector("")] if body.get("model") == "per-token" else vector(t)
                data.append({"object": "embedding", "index": i, "embedding": emb})
            return self.reply(200, {"object": "list", "data": list(reversed(data)), "model": body.get("model")})
        if self.path.endswith("/chat/completions"):
            text = body["messages"][-1]["content"]
        elif self.path.endswith("/completions") and body.get("logprobs"):
            # Likelihood scoring: the next token's top logprobs; the keyword answer is likely (-0.2).
            text = body["prompt"]
            expected = classify(text).split()[-1].strip(".").lower()
            top = {" " + label: (-0.2 if label == expected else -2.5) for label in ("negative", "neutral", "positive")}
            top[" I"] = -3.0
            if "AMBIGUOUS" in text:
                # Only a piece two labels share ("ne": negative and neutral), and " pos" for positive.
                top = {" ne": -0.1, " pos": -2.0, " I": -3.0}
            if os.environ.get("FAKE_LOGPROBS_LAYOUT") == "content":
                entry = {"id": 1, "token": " " + expected, "logprob": -0.2, "top_logprobs": [{"id": i, "token": t, "logprob": v} for i, (t, v) in enumerate(top.items())]}
                return self.reply(200, {"choices": [{"text": " " + expected, "logprobs": {"content": [entry]}}], "usage": {"prompt_tokens": len(text.split()), "completion_tokens": 1}})
            return self.reply(200, {"choices": [{"text": " " + expected, "logprobs": {"tokens": [" " + expected], "token_logprobs": [-0.2],
                                                                                 "top_logprobs": [top], "text_offset": [len(text)]}}],
                                    "usage": {"prompt_tokens": len(text.split()), "completion_tokens": 1}})
        elif self.path.endswith("/completions"):
            text = body["prompt"]
        elif self.path.endswith("/messages"):
            if not self.headers.get("x-api-key"):
                return self.reply(401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
            text = body["messages"][-1]["content"]
        else:
            return self.reply(404, {"error": {"message": "no such endpoint"}})
        if "FAIL500" in text:
            return self.reply(500, {"error": {"message": "injected server error"}})
        if "NOJSON" in text:
            return self.reply(200, None, raw=b"<html>gateway says hello</html>")
        if "NOCHOICES" in text:
            return self.reply(200, {"id": "x", "object": "chat.completion"})
        # JUDGE: a judge's rubric prompt; the grade compares its "Answer:" line (less a leading "ECHO ") with its
        # "Reference:" line: PASS when equal ignoring case, else Fail; 5 and 1 with JUDGE5. An answer with NOGRADE
        # gets no grade at all, one with J500 a server error.
        if "JUDGE" in text:
            fields = {}
            for line in text.splitlines():
                key, _, value = line.partition(": ")
                fields[key.strip()] = value.strip()
            answer = fields.get("Answer", "")
            answer = answer[5:] if answer.startswith("ECHO ") else answer
            if "J500" in answer:
                return self.reply(500, {"error": {"message": "judge overloaded"}})
            same = answer.lower() == fields.get("Reference", "").lower()
            if "NOGRADE" in answer:
                verdict = "I cannot tell."
            elif "JUDGE5" in text:
                verdict = "Score: 5" if same else "Score: 1"
            else:
                verdict = "PASS - it matches" if same else "Fail."
            usage = {"prompt_tokens": len(text.split()), "completion_tokens": 3, "total_tokens": len(text.split()) + 3}
            choice = ({"index": 0, "message": {"role": "assistant", "content": verdict}, "finish_reason": "stop"}
                      if self.path.endswith("/chat/completions") else {"index": 0, "text": " " + verdict, "finish_reason": "stop"})
            return self.reply(200, {"id": "judge-1", "choices": [choice], "usage": usage})
        # ECHO: answer with the prompt's last input line verbatim (hostile text comes back as output).
        answer = text.strip().splitlines()[-2] if "ECHO" in text and len(text.strip().splitlines()) > 1 else classify(text)
        if "ECHOKEY" in text:
            answer = "you sent " + str(self.headers.get("Authorization"))
        prompt_tokens = len(text.split())
        if self.path.endswith("/messages"):
            return self.reply(200, {"type": "message", "role": "assistant", "content": [{"type": "text", "text": answer}],
                                    "usage": {"input_tokens": prompt_tokens, "output_tokens": 2}})
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": 2, "total_tokens": prompt_tokens + 2}
        if body.get("stream"):
            usage["completion_tokens"] = len(answer.split(" "))
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            return self.stream(answer, self.path.endswith("/chat/completions"), usage, include, fault=next((f for f in ("BADSTREAM", "CUTSTREAM") if f in text), None))
        if self.path.endswith("/chat/completions"):
            choice = {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
        else:
            choice = {"index": 0, "text": " " + answer, "finish_reason": "stop"}
        self.reply(200, {"id": "cmpl-1", "choices": [choice], "usage": usage})


if __name__ == "__main__":
    # The parent may have spawned us with SIGTERM blocked; make sure it stops us.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    # An optional second argument fixes the port (for tests that start it as a managed server).
    # A backlog of 5 (the default) drops handshakes when a loaded machine accepts a burst late.
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
