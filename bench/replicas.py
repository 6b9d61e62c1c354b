#!/usr/bin/env python3
"""Two llama.cpp replicas of SmolLM2 against one, through evalkit (`server.replicas`), on the same prompts.

Each replica is llama-cpp-python's server with one thread; evalkit starts them on free ports ({port}),
sends the bundled example's chat prompt for the first N test tweets (response cache off), and stops
them. Throughput = answered requests / (run time - the servers' start-up and warm-up, from run.json's
cold_starts). Writes bench/replicas-results.md unless --quick.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bench import machine  # noqa: E402


def config(replicas, concurrency, threads=1):
    python, model = str(ROOT / ".venv/bin/python"), str(ROOT / ".venv/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    return {
        "name": f"replicas-{replicas}",
        "task": {"labels": ["negative", "neutral", "positive"]},
        "dataset": {"train": str(ROOT / "datasets/twitter-sentiment/train.jsonl"), "test": str(ROOT / "datasets/twitter-sentiment/test.jsonl"),
                    "fields": {"input": "text", "target": "label", "id": "id"}},
        "prompts": [{"id": "plain", "system": str(ROOT / "prompts/twitter-sentiment/system.txt"), "user": str(ROOT / "prompts/twitter-sentiment/plain.txt")}],
        "models": [{"id": "smollm2", "provider": "openai", "role": "small", "concurrency": concurrency,
                    "options": {"base_url": "http://127.0.0.1:{port}/v1", "model": "smollm2", "endpoint": "chat", "temperature": 0,
                                "max_tokens": 4, "stop": ["\n"], "timeout_seconds": 120},
                    "server": {"command": [python, "-m", "llama_cpp.server", "--model", model, "--port", "{port}", "--n_ctx", "2048", "--n_threads", str(threads), "--n_threads_batch", str(threads)],
                               "ready_url": "http://127.0.0.1:{port}/v1/models", "startup_timeout_seconds": 300, "replicas": replicas}}],
    }


def run(evalkit, workdir, replicas, limit, concurrency, threads=1):
    path = workdir / f"replicas-{replicas}-{threads}.json"
    path.write_text(json.dumps(config(replicas, concurrency, threads)))
    out = workdir / f"run-{replicas}-{threads}"
    started = time.perf_counter()
    subprocess.run([evalkit, "compare", str(path), "--out", str(out), "--limit", str(limit), "--no-cache", "--no-probe"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    manifest = json.loads((out / "run.json").read_text())
    cold = sum((c.get("start_ms") or 0) + (c.get("warmup_ms") or 0) for c in manifest.get("cold_starts") or []) / 1000
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    answered = sum(1 for r in results if r["error"] is None)
    by_replica = {}
    for r in results:
        by_replica[r.get("replica") or "-"] = by_replica.get(r.get("replica") or "-", 0) + 1
    serving = max(wall - cold, 1e-9)
    return {"replicas": replicas, "threads": threads, "answered": answered, "requests": len(results), "wall": wall, "cold": cold,
            "rate": answered / serving, "split": sorted(by_replica.values(), reverse=True),
            "outputs": sorted((r["example_id"], r["output"]) for r in results)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--evalkit", required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if not (ROOT / ".venv/bin/python").exists():
        sys.exit("bench/run-replicas needs .venv with llama-cpp-python and SmolLM2: run scripts/setup-local-llm first")
    limit = 16 if args.quick else 120
    workdir = Path(tempfile.mkdtemp(prefix="evalkit-replicas-"))
    try:
        compare(args, workdir, limit)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def compare(args, workdir, limit):
    one = run(args.evalkit, workdir, 1, limit, 1)
    two = run(args.evalkit, workdir, 2, limit, 1)
    both = run(args.evalkit, workdir, 1, limit, 1, threads=min(2, os.cpu_count() or 1))
    ratio = two["rate"] / one["rate"]
    same = one["outputs"] == two["outputs"]
    for row in (one, two, both):
        print(f"{row['replicas']} replica(s) of {row['threads']} thread(s): {row['answered']}/{row['requests']} answered, {row['rate']:.2f} requests/s "
              f"(run {row['wall']:.1f} s, start-up and warm-up {row['cold']:.1f} s), requests per replica {row['split']}")
    print(f"ratio {ratio:.2f}x; the same answers from one and two replicas: {same}")
    if args.quick:
        return
    text = f"""# Replicas: two llama.cpp servers of one model against one

Measured {time.strftime('%Y-%m-%d')} by `bench/run-replicas` on {machine()}.
SmolLM2-135M-Instruct (Q4_1) in llama-cpp-python's server, one thread each (that server answers one request at a
time, so one request in flight per replica); the bundled example's chat prompt over the first {limit} test tweets,
response cache off; throughput = answered requests ÷ (run time − start-up and warm-up of the servers).

| replicas × threads | answered | requests/s | run (s) | start-up + warm-up (s) | requests per replica |
|---|---:|---:|---:|---:|---|
| 1 × 1 | {one['answered']}/{one['requests']} | {one['rate']:.2f} | {one['wall']:.1f} | {one['cold']:.1f} | {one['split']} |
| 2 × 1 | {two['answered']}/{two['requests']} | {two['rate']:.2f} | {two['wall']:.1f} | {two['cold']:.1f} | {two['split']} |
| 1 × {both['threads']} (for comparison: one server given the cores) | {both['answered']}/{both['requests']} | {both['rate']:.2f} | {both['wall']:.1f} | {both['cold']:.1f} | {both['split']} |

Two replicas against one: **{ratio:.2f}×** (target ≥ 1.7× where the cores allow it: one core per replica here, so
{os.cpu_count()} cores allow {os.cpu_count()} such replicas, but the replicas' HTTP layers and evalkit share those cores with
the two llama.cpp threads). Same answers from one and from two replicas: {'yes' if same else 'no'}.
"""
    (ROOT / "bench/replicas-results.md").write_text(text)
    print("wrote bench/replicas-results.md")


if __name__ == "__main__":
    main()
