"""The capacity probe against a plain load generator: the same requests to the same llama.cpp server
(SmolLM2 from scripts/setup-local-llm's .venv), the same number in flight. evalkit's probe must reach at
least 95 % of the load generator's requests a second at every level it measured, so a capacity figure
measures the server, never the harness. Run it through bench/run-probe (it builds evalkit first).
Prints a table and rewrites bench/probe-results.md; --quick uses fewer requests and leaves the file.
"""
import argparse
import csv
import http.client
import json
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / ".venv/models/SmolLM2-135M-Instruct.Q4_1.gguf"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port):
    """llama-cpp-python's server as the bundled example runs it, tracked by its PID."""
    process = subprocess.Popen([str(ROOT / ".venv/bin/python"), "-m", "llama_cpp.server", "--model", str(MODEL), "--port", str(port),
                                "--n_ctx", "2048", "--n_threads", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as r:
                if r.status == 200:
                    return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the llama.cpp server did not start within 180 s")


def body(text, max_tokens):
    # The fields evalkit's openai provider sends for a completions prompt, in its order.
    return json.dumps({"model": "smollm2", "prompt": text, "temperature": 0, "max_tokens": max_tokens}).encode()


def load_generator(port, texts, concurrency, requests, max_tokens):
    """Requests a second with `concurrency` keep-alive connections, each taking the next request as it is free."""
    lock = threading.Lock()
    next_index = [0]
    failures = [0]

    def worker():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= requests:
                break
            connection.request("POST", "/v1/completions", body=body(texts[i % len(texts)], max_tokens),
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                with lock:
                    failures[0] += 1
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return (requests - failures[0]) / seconds, failures[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evalkit", default=str(ROOT / ".build/release/evalkit"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--results", default=str(ROOT / "bench/probe-results.md"))
    args = parser.parse_args()
    if not MODEL.exists():
        raise SystemExit(f"{MODEL} is missing: run scripts/setup-local-llm first")
    examples, per_level, max_concurrency, max_tokens = (8, 8, 2, 4) if args.quick else (24, 32, 4, 4)
    lines = (ROOT / "datasets/twitter-sentiment/test.jsonl").read_text().splitlines()[:examples]
    texts = [json.loads(line)["text"] for line in lines]
    port = free_port()
    server = start_server(port)
    levels_tried = [c for c in (1, 2, 4, 8, 16, 32) if c < max_concurrency] + [max_concurrency]
    try:
        # The load generator goes first as well as after the probe, and keeps its better figure: whatever
        # the order does to the server, it is given to the load generator.
        before = {c: load_generator(port, texts, c, max(per_level, 2 * c), max_tokens) for c in levels_tried}
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            (work / "test.jsonl").write_text("\n".join(lines) + "\n")
            (work / "train.jsonl").write_text("\n".join(lines) + "\n")
            (work / "p.txt").write_text("{{input}}")
            (work / "evalkit.json").write_text(json.dumps({
                "name": "probe-bench", "task": {"labels": ["negative", "neutral", "positive"]},
                "dataset": {"train": "train.jsonl", "test": "test.jsonl", "fields": {"input": "text", "target": "label", "id": "id"}},
                "prompts": [{"id": "p", "user": "p.txt"}],
                "models": [{"id": "smollm2", "provider": "openai", "role": "small", "concurrency": 1,
                            "options": {"base_url": f"http://127.0.0.1:{port}/v1", "model": "smollm2", "endpoint": "completions",
                                        "temperature": 0, "max_tokens": max_tokens},
                            "pricing": {"model": "dedicated", "per_hour": 0.1},
                            "capacity_probe": {"max_concurrency": max_concurrency, "requests_per_level": per_level}}]}))
            subprocess.run([args.evalkit, "compare", str(work / "evalkit.json"), "--no-cache", "--out", str(work / "run")],
                           check=True, stdout=subprocess.DEVNULL)
            with open(work / "run/capacity.csv") as f:
                levels = list(csv.DictReader(f))
        rows = []
        for level in levels:
            concurrency, requests = int(level["concurrency"]), int(level["requests"])
            after = load_generator(port, texts, concurrency, requests, max_tokens)
            plain, failures = max(after, before.get(concurrency, after), key=lambda r: r[0])
            probe = float(level["requests_per_second"])
            rows.append((concurrency, requests, probe, plain, failures, probe / plain))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    table = ["| in flight | requests | evalkit's probe (requests/s) | plain load generator (requests/s) | ratio | ≥ 95 % |",
             "|---:|---:|---:|---:|---:|:---:|"]
    for concurrency, requests, probe, plain, failures, ratio in rows:
        table.append(f"| {concurrency} | {requests} | {probe:.2f} | {plain:.2f}{' (' + str(failures) + ' failed)' if failures else ''} | "
                     f"{ratio:.2f} | {'yes' if ratio >= 0.95 else '**no**'} |")
    print("\n".join(table))
    if args.quick:
        print("quick mode: bench/probe-results.md left as it is")
        return
    Path(args.results).write_text(
        "# The capacity probe against a plain load generator\n\n"
        f"Measured {time.strftime('%Y-%m-%d')} by `bench/run-probe`: llama-cpp-python's server with SmolLM2-135M (Q4_1, 2 threads) on "
        f"127.0.0.1; evalkit's probe (`capacity_probe`, {per_level} requests a level, the first {examples} test tweets in turn, "
        f"max_tokens {max_tokens}), and a Python load generator (http.client, one keep-alive connection a thread) sending the same "
        "request bodies in the same order at each level, once before evalkit's run and once after it; the load generator's better "
        "figure is the one compared. Requests a second from the first request sent to the last answer, for both.\n\n" + "\n".join(table) + "\n")


if __name__ == "__main__":
    main()
