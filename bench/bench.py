"""evalkit's benchmarks: harness overhead against Inspect AI and lm-evaluation-harness, cached re-runs,
analysis of large result files, memory, builtin training and start-up. Prints a table and rewrites
bench/results.md. Run it through bench/run, which builds evalkit in release mode and sets up the peers.

Every tool talks to the same nginx on 127.0.0.1 that answers each POST with one fixed chat completion
at once (the server is never the bottleneck: wrk gets tens of thousands of requests/s out of it).
Steady state is measured as the difference between a run of N and a run of 2N requests, so start-up
and report writing cancel out; CPU time is the tool's own (user + system of its process tree).
"""
import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["negative", "neutral", "positive"]
ANSWER = {"id": "bench", "object": "chat.completion", "created": 1700000000, "model": "bench",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "positive"}, "finish_reason": "stop", "logprobs": None}],
          "usage": {"prompt_tokens": 24, "completion_tokens": 1, "total_tokens": 25}}


class Nginx:
    """nginx in the foreground (daemon off), started and stopped by its PID."""

    def __init__(self, port, workdir):
        self.port = port
        self.log = workdir / "requests.log"
        conf = workdir / "nginx.conf"
        body = json.dumps(ANSWER).replace("'", "\\'")
        conf.write_text(f"""
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  log_format stamps '$msec';
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  client_body_buffer_size 64k;
  server {{
    listen 127.0.0.1:{port} reuseport backlog=4096;
    default_type application/json;
    location /v1/models {{ return 200 '{{"object":"list","data":[{{"id":"bench","object":"model"}}]}}'; }}
    location / {{ access_log {workdir}/requests.log stamps; return 200 '{body}'; }}
  }}
}}
""")
        for d in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]:
            (workdir / d).mkdir(exist_ok=True)
        self.process = subprocess.Popen([nginx_binary(), "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "nginx-error.log")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"nginx exited at start: {(workdir / 'nginx-error.log').read_text()}")
            try:
                import urllib.request
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)
        sys.exit("nginx did not answer within 10 s")

    def reset_log(self):
        """Empties the request log (nginx appends to it, so truncating in place is safe)."""
        open(self.log, "w").close()

    def request_times(self):
        try:
            return sorted(float(line) for line in self.log.read_text().split())
        except OSError:
            return []

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def nginx_binary():
    for candidate in [shutil.which("nginx"), "/usr/sbin/nginx"]:
        if candidate and os.path.exists(candidate):
            return candidate
    sys.exit("nginx not found: bench/run installs it (apt-get install nginx-light)")


def tree_cpu_seconds(pid):
    """User + system CPU seconds of a process and its descendants, from /proc."""
    total, stack, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while stack:
        current = stack.pop()
        try:
            fields = open(f"/proc/{current}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in os.listdir(f"/proc/{current}/task"):
                stack.extend(int(c) for c in open(f"/proc/{current}/task/{task}/children").read().split())
        except (OSError, IndexError, ValueError):
            continue
    return total


def run_measured(argv, env=None, cwd=None, check=True, sample=False):
    """Runs argv; returns wall seconds, CPU seconds (user + system of it and the children it waited for,
    through wait4), peak RSS in MB and, with `sample`, (time, CPU seconds) samples every 20 ms."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            if cwd:
                os.chdir(cwd)
            log = os.open(os.devnull if not os.environ.get("BENCH_VERBOSE") else "/dev/stderr", os.O_WRONLY)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.execvpe(argv[0], argv, env or os.environ)
        finally:
            os._exit(127)
    samples = []
    # With `sample`, poll until it exits (the loop breaks); without, the else branch waits at once.
    while sample:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        samples.append((time.time(), tree_cpu_seconds(pid)))
        time.sleep(0.02)
    else:
        _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if check and code != 0:
        sys.exit(f"failed ({code}): {' '.join(map(str, argv))}\n(re-run with BENCH_VERBOSE=1 to see its output)")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024, "samples": samples}


def steady_state(times, samples):
    """Requests/s and CPU ms per request between the 10th and 90th percentile of the requests the
    server logged: start-up, the last stragglers and report writing fall outside the window."""
    if len(times) < 20:
        return None, None
    low, high = times[len(times) // 10], times[len(times) * 9 // 10]
    requests = len(times) * 8 // 10
    rate = requests / max(high - low, 1e-9)
    def cpu_at(t):
        before = [c for (ts, c) in samples if ts <= t]
        return before[-1] if before else None
    start, end = cpu_at(low), cpu_at(high)
    cpu_ms = (end - start) / requests * 1000 if start is not None and end is not None and end > start else None
    return rate, cpu_ms


def write_examples(path, count):
    """count labelled tweets: the bundled corpus, cycled, each made unique by its number."""
    source = [json.loads(line) for line in (ROOT / "datasets/twitter-sentiment/train.jsonl").read_text().splitlines() if line.strip()]
    with open(path, "w") as f:
        for i in range(count):
            row = source[i % len(source)]
            f.write(json.dumps({"id": f"b{i}", "text": f"{row['text']} #{i}", "label": row["label"]}) + "\n")


def evalkit_config(workdir, port, count, concurrency, prompts=1, name="bench", repeats=1):
    data = workdir / f"data-{count}.jsonl"
    if not data.exists():
        write_examples(data, count)
    train = workdir / "train.jsonl"
    if not train.exists():
        write_examples(train, 30)
    # Prompts differ by a tag so each candidate is its own request (and cache entry).
    for i in range(prompts):
        (workdir / f"prompt-{i}.txt").write_text(f"[variant {i}] What's the sentiment of this tweet? Answer with one word: {{{{labels}}}}.\n\nTweet: {{{{input}}}}\nSentiment:")
    config = {
        "name": name,
        "task": {"labels": LABELS},
        "dataset": {"train": str(train), "test": str(data), "fields": {"input": "text", "target": "label", "id": "id"}},
        "prompts": [{"id": f"p{i}", "user": f"prompt-{i}.txt"} for i in range(prompts)],
        "models": [{"id": "nginx", "provider": "openai", "role": "foundation",
                    "options": {"base_url": f"http://127.0.0.1:{port}/v1", "model": "bench", "endpoint": "chat", "max_tokens": 4},
                    "pricing": {"input_per_million": 0.1, "output_per_million": 0.4}, "concurrency": concurrency}],
        "candidates": [{"model": "nginx", "prompt": f"p{i}"} for i in range(prompts)],
        "run": {"concurrency": concurrency, **({"repeats": repeats} if repeats > 1 else {})},
    }
    path = workdir / f"{name}-{count}-{concurrency}-{prompts}.json"
    path.write_text(json.dumps(config, indent=1))
    return path


class Bench:
    def __init__(self, args):
        self.args = args
        self.evalkit = str(ROOT / args.evalkit)
        self.workdir = Path(tempfile.mkdtemp(prefix="evalkit-bench-"))
        self.port = args.port
        self.rows = []
        self.notes = []

    def env(self, **extra):
        env = dict(os.environ)
        env.update({"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                    "INSPECT_DISPLAY": "none", "NO_COLOR": "1"})
        env.update(extra)
        return env

    def evalkit_run(self, count, concurrency, extra=(), prompts=1, out=None, sample=False):
        config = evalkit_config(self.workdir, self.port, count, concurrency, prompts)
        out = out or self.workdir / f"run-{count}-{concurrency}-{prompts}-{time.monotonic_ns()}"
        argv = [self.evalkit, "compare", str(config), "--out", str(out), "--concurrency", str(concurrency), *extra]
        result = run_measured(argv, env=self.env(), cwd=self.workdir, sample=sample)
        result["out"] = out
        return result

    def lm_eval_run(self, count, concurrency):
        tasks = self.workdir / "lm-eval-tasks"
        tasks.mkdir(exist_ok=True)
        data = self.workdir / f"data-{count}.jsonl"
        if not data.exists():
            write_examples(data, count)
        (tasks / f"bench_{count}.yaml").write_text(f"""task: bench_{count}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "What's the sentiment of this tweet? Answer with one word: negative, neutral, positive.\\n\\nTweet: {{{{text}}}}\\nSentiment:"
doc_to_target: label
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 4
  do_sample: false
metric_list:
  - metric: exact_match
""")
        argv = [str(ROOT / ".venv-bench/bin/lm_eval"), "--model", "local-chat-completions",
                "--model_args", f"model=bench,base_url=http://127.0.0.1:{self.port}/v1/chat/completions,num_concurrent={concurrency},"
                                "max_retries=1,tokenized_requests=False,tokenizer_backend=None",
                "--tasks", f"bench_{count}", "--include_path", str(tasks), "--apply_chat_template",
                "--output_path", str(self.workdir / f"lm-eval-{count}-{concurrency}"), *(["--log_samples"] if os.environ.get("BENCH_VERBOSE") else [])]
        return run_measured(argv, env=self.env(OPENAI_API_KEY="bench"), cwd=self.workdir, sample=True)

    def inspect_run(self, count, concurrency):
        data = self.workdir / f"data-{count}.jsonl"
        if not data.exists():
            write_examples(data, count)
        task = self.workdir / "inspect_bench.py"
        task.write_text(f"""from inspect_ai import Task, task
from inspect_ai.dataset import FieldSpec, json_dataset
from inspect_ai.scorer import match
from inspect_ai.solver import generate, prompt_template

@task
def bench(path: str):
    return Task(dataset=json_dataset(path, FieldSpec(input="text", target="label", id="id")),
                solver=[prompt_template("What's the sentiment of this tweet? Answer with one word: negative, neutral, positive.\\n\\nTweet: {{prompt}}\\nSentiment:"), generate()],
                scorer=match())
""")
        argv = [str(ROOT / ".venv-bench/bin/inspect"), "eval", f"{task}@bench", "-T", f"path={data}",
                "--model", "openai-api/bench/bench", "--max-connections", str(concurrency), "--max-tokens", "4",
                "--log-dir", str(self.workdir / f"inspect-{count}-{concurrency}"), "--display", "none", "--max-retries", "1"]
        return run_measured(argv, env=self.env(BENCH_API_KEY="bench", BENCH_BASE_URL=f"http://127.0.0.1:{self.port}/v1"), cwd=self.workdir,
                            sample=True)

    def overhead(self, tools, requests, concurrencies):
        """(1) and (2): `requests` requests per tool and concurrency; steady state from nginx's log of
        request times and the tool's CPU sampled while it ran."""
        results = {}
        for concurrency in concurrencies:
            for tool in tools:
                if tool != "evalkit" and concurrency != max(concurrencies):
                    continue
                runner = {"evalkit": lambda: self.evalkit_run(requests, concurrency, ["--no-cache"], sample=True),
                          "lm-eval": lambda: self.lm_eval_run(requests, concurrency),
                          "inspect": lambda: self.inspect_run(requests, concurrency)}[tool]
                self.nginx.reset_log()
                run = runner()
                times = self.nginx.request_times()
                if len(times) < requests:
                    sys.exit(f"{tool} sent {len(times)} of {requests} requests")
                rate, cpu_ms = steady_state(times, run["samples"])
                row = {"tool": tool, "concurrency": concurrency, "requests": requests, "end_to_end_s": run["wall"],
                       "steady_rps": rate, "cpu_ms_per_request": cpu_ms, "cpu_ms_per_request_total": run["cpu"] / requests * 1000,
                       "rss_mb": run["rss_mb"]}
                results[(tool, concurrency)] = row
                print(f"  {tool:8} c={concurrency:<3} {requests} requests end to end {row['end_to_end_s']:.2f} s; steady {rate:.0f} req/s, "
                      f"{cpu_ms if cpu_ms is not None else float('nan'):.3f} ms CPU/request ({row['cpu_ms_per_request_total']:.3f} overall); "
                      f"peak RSS {row['rss_mb']:.0f} MB", flush=True)
        return results

    def cached_rerun(self, examples, prompts):
        """(3): a re-run whose every answer is in the cache (filled by an earlier run over the same prompts)."""
        config = evalkit_config(self.workdir, self.port, examples, 64, prompts)
        out = self.workdir / f"cached-{examples}x{prompts}"
        result = run_measured([self.evalkit, "compare", str(config), "--out", str(out)], env=self.env(), cwd=self.workdir)
        manifest = json.loads((out / "run.json").read_text())
        cached = sum(1 for line in open(out / "results.jsonl") if '"cached":true' in line.replace(" ", ""))
        if cached != examples * prompts:
            sys.exit(f"expected {examples * prompts} cached answers in {out}, found {cached}")
        result["out"] = out
        result["results"] = manifest.get("counts", {}).get("requests", examples * prompts)
        return result

    def analysis(self, run_folder):
        """(4): re-analysing a finished run folder and writing its reports (`evalkit report`)."""
        return run_measured([self.evalkit, "report", str(run_folder)], env=self.env(), cwd=self.workdir)

    def training(self, examples):
        """(6): the builtin model trained on `examples` training examples (time from run.json)."""
        train = self.workdir / f"train-{examples}.jsonl"
        write_examples(train, examples)
        test = self.workdir / "data-100.jsonl"
        if not test.exists():
            write_examples(test, 100)
        config = self.workdir / f"builtin-{examples}.json"
        config.write_text(json.dumps({
            "name": "builtin-bench", "task": {"labels": LABELS},
            "dataset": {"train": str(train), "test": str(test), "fields": {"input": "text", "target": "label", "id": "id"}},
            "models": [{"id": "builtin", "provider": "builtin", "role": "fine-tuned", "options": {"epochs": 10}}],
            "candidates": [{"model": "builtin"}]}))
        out = self.workdir / f"builtin-{examples}"
        result = run_measured([self.evalkit, "compare", str(config), "--out", str(out), "--no-cache"], env=self.env(), cwd=self.workdir)
        training = json.loads((out / "run.json").read_text())["training"][0]
        result["training_s"] = training["seconds"]
        result["epochs"] = (training.get("last_epoch") or {}).get("epoch")
        return result

    def help_time(self, repeats):
        times = sorted(run_measured([self.evalkit, "--help"])["wall"] for _ in range(repeats))
        return times[len(times) // 2]


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB memory, {platform.system()} {platform.release()}"


def main():
    parser = argparse.ArgumentParser(description="evalkit's benchmarks; bench/run builds evalkit and sets up the peers first")
    parser.add_argument("--evalkit", default=".build/release/evalkit")
    parser.add_argument("--quick", action="store_true", help="small sizes, evalkit only: proves the bench still works (CI)")
    parser.add_argument("--port", type=int, default=18089)
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--results", default=str(ROOT / "bench/results.md"))
    args = parser.parse_args()
    bench = Bench(args)
    try:
        run(args, bench)
    finally:
        shutil.rmtree(bench.workdir, ignore_errors=True)


def run(args, bench):
    quick = args.quick
    requests = 200 if quick else 2000
    concurrencies = [16] if quick else [1, 16, 64]
    tools = ["evalkit"] if quick or args.skip_peers else ["evalkit", "lm-eval", "inspect"]
    cached_examples = 300 if quick else 10_000
    small_results, large_results = (600, 3_000) if quick else (10_000, 100_000)
    prompts = 6
    nginx = Nginx(bench.port, bench.workdir)
    bench.nginx = nginx
    try:
        print(f"(1, 2) harness overhead: {requests} requests to nginx on 127.0.0.1", flush=True)
        overhead = bench.overhead(tools, requests, concurrencies)
        print(f"(3) filling the cache: {large_results // prompts} examples x {prompts} prompts", flush=True)
        fill = bench.evalkit_run(large_results // prompts, 64, [], prompts)
        print(f"    {large_results // prompts * prompts} requests in {fill['wall']:.1f} s", flush=True)
        # The median of three: one run of about 2 s swings by a second on a shared 2-core machine.
        runs = sorted((bench.cached_rerun(cached_examples, prompts) for _ in range(3)), key=lambda r: r["wall"])
        cached = runs[1]
        print(f"(3) cached re-run of {cached_examples} x {prompts}: {cached['wall']:.2f} s (median of {', '.join('%.2f' % r['wall'] for r in runs)}), "
              f"{cached['rss_mb']:.0f} MB", flush=True)
        memory = {}
        for size in (small_results, large_results):
            rerun = bench.cached_rerun(size // prompts, prompts)
            report = bench.analysis(rerun["out"])
            memory[size] = (rerun, report)
            print(f"(4, 5) {size // prompts * prompts} results: cached re-run {rerun['wall']:.2f} s / {rerun['rss_mb']:.0f} MB; "
                  f"analysis and reports {report['wall']:.2f} s / {report['rss_mb']:.0f} MB", flush=True)
    finally:
        nginx.stop()
    train_examples = 1_000 if quick else 10_000
    training = bench.training(train_examples)
    print(f"(6) builtin training on {train_examples} examples: {training['training_s']:.2f} s", flush=True)
    help_ms = bench.help_time(5 if quick else 21) * 1000
    print(f"evalkit --help: {help_ms:.1f} ms (median)", flush=True)
    if quick:
        print("quick mode: bench/results.md left as it is")
        return
    write_results(args.results, overhead, requests, cached, cached_examples, prompts, memory, training, train_examples, help_ms)


def write_results(path, overhead, requests, cached, cached_examples, prompts, memory, training, train_examples, help_ms):
    evalkit64 = overhead[("evalkit", 64)]
    peers = [overhead[k] for k in overhead if k[0] != "evalkit"]
    fastest_end = min(peers, key=lambda r: r["end_to_end_s"]) if peers else None
    fastest_steady = max(peers, key=lambda r: r["steady_rps"]) if peers else None
    small, large = sorted(memory)
    lines = []
    add = lines.append
    add("# Benchmarks\n")
    add(f"Measured {time.strftime('%Y-%m-%d')} by `bench/run` on {machine()}; evalkit built with `swift build -c release`; "
        f"peers: lm-evaluation-harness {package_version('lm-eval')} (`local-chat-completions`) and Inspect AI {package_version('inspect-ai')} "
        "(`openai-api` provider), from PyPI. Every tool sends the same prompts over the same tweets to the same nginx on 127.0.0.1, "
        "which answers each request at once with one fixed chat completion. Re-run: `bench/run` (about 3 minutes, plus a few to install the peers the first time).\n")
    add("## Harness overhead: the same workload through each tool\n")
    add(f"End to end: {requests} requests, from start to exit (start-up, data loading, reports). Steady state: between the 10th and "
        "the 90th percentile of the request times nginx logged, so start-up and report writing fall outside; CPU per request: user + "
        "system time of the tool's processes (sampled from /proc every 20 ms) over that same window. CPU overall: the whole run's "
        "CPU time divided by the requests.\n")
    add("| tool | concurrency | end to end (s) | steady state (requests/s) | CPU per request, steady (ms) | CPU per request, overall (ms) | peak memory (MB) |")
    add("|---|---:|---:|---:|---:|---:|---:|")
    for (tool, concurrency), r in overhead.items():
        steady_cpu = f"{r['cpu_ms_per_request']:.3f}" if r["cpu_ms_per_request"] is not None else "–"
        add(f"| {tool} | {concurrency} | {r['end_to_end_s']:.2f} | {r['steady_rps']:.0f} | {steady_cpu} | {r['cpu_ms_per_request_total']:.3f} | {r['rss_mb']:.0f} |")
    add("")
    targets = []
    if fastest_end:
        targets.append((f"{requests} requests at concurrency 64, end to end, ≥ 10× faster than the faster peer ({fastest_end['tool']})",
                        f"{fastest_end['end_to_end_s'] / evalkit64['end_to_end_s']:.1f}×", fastest_end["end_to_end_s"] / evalkit64["end_to_end_s"] >= 10))
        targets.append((f"steady-state requests/s ≥ 3× the faster peer's ({fastest_steady['tool']})",
                        f"{evalkit64['steady_rps'] / fastest_steady['steady_rps']:.1f}×", evalkit64["steady_rps"] / fastest_steady["steady_rps"] >= 3))
    cpu64 = evalkit64["cpu_ms_per_request"] if evalkit64["cpu_ms_per_request"] is not None else evalkit64["cpu_ms_per_request_total"]
    targets.append(("harness CPU per request < 0.75 ms (concurrency 64, steady state)", f"{cpu64:.3f} ms", cpu64 < 0.75))
    targets.append((f"fully cached re-run of {cached_examples:,} examples × {prompts} candidates < 2 s (median of 3)", f"{cached['wall']:.2f} s", cached["wall"] < 2))
    targets.append((f"analysis and reports from a {large:,}-line results.jsonl < 3 s", f"{memory[large][1]['wall']:.2f} s", memory[large][1]["wall"] < 3))
    targets.append(("… with peak memory < 300 MB", f"{memory[large][1]['rss_mb']:.0f} MB", memory[large][1]["rss_mb"] < 300))
    for i, name in ((0, "cached re-run"), (1, "analysis and reports")):
        ratio = memory[large][i]["rss_mb"] / memory[small][i]["rss_mb"]
        targets.append((f"{name}: peak memory at {large:,} results ≤ 1.5× that at {small:,}", f"{ratio:.2f}×", ratio <= 1.5))
    targets.append(("`evalkit --help` < 50 ms (median of 21)", f"{help_ms:.1f} ms", help_ms < 50))
    add("## Targets\n")
    add("| target | measured | met |")
    add("|---|---:|:---:|")
    for name, value, met in targets:
        add(f"| {name} | {value} | {'yes' if met else '**no**'} |")
    add("")
    add("## Scale and memory\n")
    add("| workload | wall (s) | CPU (s) | peak memory (MB) |")
    add("|---|---:|---:|---:|")
    add(f"| cached re-run, {cached_examples:,} examples × {prompts} candidates (median of 3) | {cached['wall']:.2f} | {cached['cpu']:.2f} | {cached['rss_mb']:.0f} |")
    for size in (small, large):
        rerun, report = memory[size]
        actual = size // prompts * prompts
        add(f"| cached re-run, {actual:,} results ({size // prompts:,} examples × {prompts}) | {rerun['wall']:.2f} | {rerun['cpu']:.2f} | {rerun['rss_mb']:.0f} |")
        add(f"| analysis and reports (`evalkit report`), {actual:,}-line results.jsonl | {report['wall']:.2f} | {report['cpu']:.2f} | {report['rss_mb']:.0f} |")
    add(f"| builtin model: {train_examples:,} training examples, {training['epochs']} epochs (training alone: {training['training_s']:.2f} s) | "
        f"{training['wall']:.2f} | {training['cpu']:.2f} | {training['rss_mb']:.0f} |")
    add("")
    history = Path(path).read_text().split("## Changes and their effect", 1)[1] if Path(path).exists() and "## Changes and their effect" in Path(path).read_text() else "\n"
    add("## Changes and their effect" + history.rstrip() + "\n" if history.strip() else "## Changes and their effect\n\n(none yet)\n")
    text = "\n".join(lines)
    Path(path).write_text(text)
    print("\n" + text)


def package_version(name):
    try:
        out = subprocess.run([str(ROOT / ".venv-bench/bin/pip"), "show", name], capture_output=True, text=True, timeout=60).stdout
        return next((l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Version:")), "?")
    except (OSError, subprocess.TimeoutExpired):
        return "?"


if __name__ == "__main__":
    main()
