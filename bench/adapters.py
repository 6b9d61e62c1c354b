#!/usr/bin/env python3
"""Several LoRA adapters from one llama.cpp server against one server per adapter, through evalkit.

The adapters of data-efficiency.json's curve, its distilled student and the student's last checkpoint, which early stopping
set aside (reports/twitter-sentiment-data-efficiency/*/adapter-q8_0.gguf, lora-256-distilled/last-checkpoint/)
on SmolLM2-135M-Instruct (Q4_1), scored by label likelihood with the raw-plain prompt over the first N test tweets
(response cache off, no capacity probe), all candidates side by side:
  one server   llama.cpp's own server (scripts/build-llama-server) with every adapter loaded (--lora … --lora-init-without-apply),
               one evalkit model per adapter choosing it per request (extra_body "lora", and "cache_prompt": false so that no
               prompt prefix computed under one adapter is reused under another), the server shared ("shared": true)
  per adapter  the same server binary started once per adapter (--lora one), one evalkit model each
  per adapter, Python server   llama-cpp-python's server once per adapter (--lora_path), as data-efficiency.json serves them
Memory: the largest sum, over the run, of the proportional set size (PSS, /proc/PID/smaps_rollup) of every server process
(evalkit's own memory left out). Start-up: from run.json's cold_starts, each model's server start until ready. Writes
bench/adapters-results.md unless --quick.
"""
import argparse, json, os, subprocess, sys, tempfile, threading, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bench import machine  # noqa: E402

# The curve's adapters, the distilled student, and the student's last checkpoint, which early stopping set aside.
ADAPTERS = ["lora-64", "lora-256", "lora-1024", "lora-256-distilled", "lora-256-distilled/last-checkpoint"]
BASE = ROOT / ".venv/models/SmolLM2-135M-Instruct.Q4_1.gguf"
LLAMA_SERVER = ROOT / ".venv-llama-server/bin/llama-server"


def adapter(name):
    return str(ROOT / f"reports/twitter-sentiment-data-efficiency/{name}/adapter-q8_0.gguf")


def model(name, server, extra=None):
    name = name.replace("/last-checkpoint", "-last")
    options = {"base_url": "http://127.0.0.1:{port}/v1", "model": "smollm2", "endpoint": "completions", "scoring": "likelihood",
               "temperature": 0, "max_tokens": 4, "timeout_seconds": 120}
    if extra:
        options["extra_body"] = extra
    return {"id": name, "provider": "openai", "role": "fine-tuned", "options": options, "server": server}


def llama_server(loras, shared=False):
    command = [str(LLAMA_SERVER), "-m", str(BASE), "--port", "{port}", "--host", "127.0.0.1", "-c", "2048", "-t", "2", "-np", "1"]
    for path in loras:
        command += ["--lora", path]
    if shared:
        command.append("--lora-init-without-apply")
    return {"command": command, "ready_url": "http://127.0.0.1:{port}/v1/models", "startup_timeout_seconds": 300, "shared": shared}


def python_server(lora):
    command = [str(ROOT / ".venv/bin/python"), "-m", "llama_cpp.server", "--model", str(BASE), "--lora_path", lora,
               "--port", "{port}", "--n_ctx", "2048", "--n_threads", "2"]
    return {"command": command, "ready_url": "http://127.0.0.1:{port}/v1/models", "startup_timeout_seconds": 300}


def config(setup):
    if setup == "one server":
        server = llama_server([adapter(a) for a in ADAPTERS], shared=True)
        # cache_prompt false: llama.cpp's server would otherwise reuse a prompt prefix computed under another
        # adapter (measured: 15 of 100 labels changed with the cache on, 1 of 100 with it off).
        models = [model(a, server, {"lora": [{"id": i, "scale": 1}], "cache_prompt": False}) for i, a in enumerate(ADAPTERS)]
    elif setup == "per adapter":
        models = [model(a, llama_server([adapter(a)])) for a in ADAPTERS]
    else:
        models = [model(a, python_server(adapter(a))) for a in ADAPTERS]
    return {
        "name": "adapters",
        "task": {"labels": ["negative", "neutral", "positive"]},
        "dataset": {"train": str(ROOT / "datasets/twitter-sentiment/train.jsonl"), "test": str(ROOT / "datasets/twitter-sentiment/test.jsonl"),
                    "fields": {"input": "text", "target": "label", "id": "id"}},
        "prompts": [{"id": "raw-plain", "user": str(ROOT / "prompts/twitter-sentiment/completion-plain.txt")}],
        "models": models,
        "run": {"sequential_models": False},
    }


def descendants(pid):
    out, stack = [], [pid]
    while stack:
        current = stack.pop()
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                children = [int(c) for c in open(f"/proc/{current}/task/{task}/children").read().split()]
                out += children
                stack += children
        except OSError:
            continue
    return out


def pss_mb(pid):
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run(evalkit, workdir, setup, limit):
    path = workdir / (setup.replace(" ", "-").replace(",", "") + ".json")
    path.write_text(json.dumps(config(setup)))
    out = workdir / ("run-" + path.stem)
    peak, stop = [0.0], threading.Event()
    process = subprocess.Popen([evalkit, "compare", str(path), "--out", str(out), "--limit", str(limit), "--no-cache", "--no-probe"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], sum(pss_mb(p) for p in descendants(process.pid)))
            time.sleep(0.1)
    sampler = threading.Thread(target=sample)
    started = time.perf_counter()
    sampler.start()
    _, errors = process.communicate()
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode != 0:
        sys.exit(f"{setup}: evalkit exited {process.returncode}: {errors[-2000:]}")
    manifest = json.loads((out / "run.json").read_text())
    starts = [c.get("start_ms") or 0 for c in manifest.get("cold_starts") or []]
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    answers = {(r["candidate"], r["example_id"]): r.get("label") for r in results}
    return {"setup": setup, "servers": 1 if setup == "one server" else len(ADAPTERS), "peak_mb": peak[0], "starts": starts,
            "wall": wall, "answered": sum(1 for r in results if r["error"] is None), "requests": len(results), "answers": answers}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--evalkit", required=True)
    p.add_argument("--quick", action="store_true", help="20 tweets; results not written")
    p.add_argument("--limit", type=int, default=60)
    args = p.parse_args()
    missing = [str(x) for x in [LLAMA_SERVER, BASE] + [Path(adapter(a)) for a in ADAPTERS] if not Path(x).exists()]
    if missing:
        sys.exit("missing: " + ", ".join(missing) + " (scripts/build-llama-server, scripts/setup-local-llm, scripts/train-step4)")
    limit = 20 if args.quick else args.limit
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run(args.evalkit, Path(tmp), setup, limit) for setup in ["one server", "per adapter", "per adapter, Python server"]]
    one = rows[0]
    same = sum(1 for k, v in one["answers"].items() if rows[1]["answers"].get(k) == v)
    lines = [
        "# Several adapters from one server",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} by `bench/run-adapters` on {machine()}.",
        f"The {len(ADAPTERS)} LoRA adapters of data-efficiency.json ({', '.join(ADAPTERS)}: the curve, the distilled student and its last",
        f"checkpoint, which early stopping set aside; q8_0 GGUF) on SmolLM2-135M-Instruct (Q4_1),",
        f"label likelihood with the raw-plain prompt over the first {limit} test tweets, every candidate side by side, response cache off.",
        "Memory: the peak over the run of the summed proportional set size (PSS) of the server processes; start-up: each",
        "model's wait for its server, from run.json (the servers start side by side; a shared server starts once and its",
        "other models wait for that start). Run times are left out: servers of two threads each, one per adapter, on two cores measure",
        "the oversubscription, not the adapters.",
        "",
        "| setup | server processes | peak server memory (MB) | start-up per model (s) | until every adapter answers (s) | answered |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        starts = ", ".join(f"{s / 1000:.1f}" for s in r["starts"])
        lines.append(f"| {r['setup']} | {r['servers']} | {r['peak_mb']:.0f} | {starts} | {max(r['starts'] or [0]) / 1000:.1f} | {r['answered']}/{r['requests']} |")
    lines += ["", f"One server per adapter against one for all (same binary): **{rows[1]['peak_mb'] / max(one['peak_mb'], 1e-9):.2f}×** the memory, "
              f"**{max(rows[1]['starts'] or [0]) / max(max(one['starts'] or [0]), 1):.2f}×** the time until every adapter answers (servers started side by side on 2 cores slow one another's start); the adapter chosen per "
              f"request gives the same label as the adapter loaded alone on {same} of {len(one['answers'])} requests."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        (ROOT / "bench/adapters-results.md").write_text(text)


if __name__ == "__main__":
    main()
