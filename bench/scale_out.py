#!/usr/bin/env python3
"""Shards and merge at scale (see bench/run-scale-out).

(1) A builtin-only experiment on 20,000 test examples run as N = 1, 2 and 4 shard processes side by
    side, then merged: wall time (from the first start to the last shard's end, and the merge), and
    whether the merged answers and reports equal the single process's (report lines that hold measured
    times — the builtin model's latency and training time — are counted apart).
(2) Merging and analysing 100,000 and 1,000,000 results (4 shards of a prompted experiment answered by
    nginx): wall time and peak memory of `evalkit merge`.
Writes bench/scale-out-results.md unless --quick.
"""
import argparse, json, os, platform, shutil, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import LABELS, ROOT, Nginx, evalkit_config, machine, run_measured, write_examples  # noqa: E402


def builtin_config(workdir, examples):
    test, train = workdir / f"test-{examples}.jsonl", workdir / "train-2000.jsonl"
    if not test.exists():
        write_examples(test, examples)
    if not train.exists():
        write_examples(train, 2000)
    path = workdir / f"builtin-{examples}.json"
    path.write_text(json.dumps({
        "name": "scale-out", "task": {"labels": LABELS},
        "dataset": {"train": str(train), "test": str(test), "fields": {"input": "text", "target": "label", "id": "id"}},
        "models": [{"id": "builtin", "provider": "builtin", "role": "fine-tuned", "options": {"epochs": 5}}],
        "candidates": [{"model": "builtin"}]}))
    return path


def side_by_side(evalkit, config, shards, out, extra=()):
    """Runs shard k/N for every k at once; returns the wall time from the first start to the last end."""
    started = time.perf_counter()
    if shards == 1:
        subprocess.run([evalkit, "compare", str(config), "--out", str(out / "single"), *extra], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started
    processes = [subprocess.Popen([evalkit, "compare", str(config), "--shard", f"{k}/{shards}", "--out", str(out / f"shard-{k}"), *extra],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for k in range(shards)]
    for p in processes:
        if p.wait() != 0:
            sys.exit(f"a shard failed ({p.args})")
    return time.perf_counter() - started


def below_header(path):
    text = path.read_text()
    return text.split("<!-- /run-header -->", 1)[-1]


def answers(folder):
    return sorted((r["candidate"], r["example_id"], r["output"]) for r in map(json.loads, (folder / "results.jsonl").read_text().splitlines()))


def table_row(r):
    merge = "–" if r["merge"] is None else "%.2f" % r["merge"]
    same = "yes" if r["same_answers"] else "no"
    return "| %d | %.2f | %s | %s | %d |\n" % (r["shards"], r["wall"], merge, same, r["differing_lines"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--evalkit", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--port", type=int, default=18091)
    args = parser.parse_args()
    evalkit = str(Path(args.evalkit).resolve())
    workdir = Path(tempfile.mkdtemp(prefix="evalkit-scale-out-"))
    try:
        measure(args, evalkit, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def measure(args, evalkit, workdir):
    examples = 2000 if args.quick else 20000
    config = builtin_config(workdir, examples)
    rows, reference = [], None
    for shards in (1, 2, 4):
        out = workdir / f"n{shards}"
        wall = side_by_side(evalkit, config, shards, out, ["--no-probe"])
        merge = None
        folder = out / "single"
        if shards > 1:
            folder = out / "merged"
            m = run_measured([evalkit, "merge", *[str(out / f"shard-{k}") for k in range(shards)], "--out", str(folder)])
            merge = m["wall"]
        found = answers(folder)
        report = below_header(folder / "report.md").splitlines()
        if reference is None:
            reference = (found, report, (folder / "summary.csv").read_text())
        differing = [a for a, b in zip(report, reference[1]) if a != b] + ([] if len(report) == len(reference[1]) else ["(length)"])
        rows.append({"shards": shards, "wall": wall, "merge": merge, "same_answers": found == reference[0],
                     "differing_lines": len(differing), "differing": differing})
        print(f"(1) {examples} examples, {shards} shard process(es): {wall:.2f} s" + (f", merge {merge:.2f} s" if merge else "")
              + f"; answers equal to one process: {found == reference[0]}; report lines that differ: {len(differing)}", flush=True)

    # (2) The same examples answered more times (repeats), and more examples: which memory grows with results, which with examples.
    base_examples = 5_000 if args.quick else 25_000
    more = 5 if args.quick else 10
    runs = [("base", base_examples, 1), ("repeats", base_examples, more), ("examples", base_examples * more, 1)]
    scale = {}
    nginx = Nginx(args.port, workdir)
    try:
        for kind, count, repeats in runs:
            prompts = 4
            cfg = evalkit_config(workdir, args.port, count, 64, prompts, name=f"merge-{kind}", repeats=repeats)
            out = workdir / f"merge-{kind}"
            for k in range(4):
                subprocess.run([evalkit, "compare", str(cfg), "--shard", f"{k}/4", "--out", str(out / f"shard-{k}"), "--no-cache", "--no-probe",
                                "--concurrency", "64"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            m = run_measured([evalkit, "merge", *[str(out / f"shard-{k}") for k in range(4)], "--out", str(out / "merged")])
            lines = sum(1 for _ in open(out / "merged/results.jsonl"))
            scale[kind] = {"results": lines, "examples": count, "repeats": repeats, "wall": m["wall"], "cpu": m["cpu"], "rss": m["rss_mb"],
                           "html_mb": (out / "merged/report.html").stat().st_size / 1e6}
            print(f"(2) merge and analysis of {lines} results ({count} examples × 4 prompts × {repeats} repeats) from 4 shards: "
                  f"{m['wall']:.2f} s, peak {m['rss_mb']:.0f} MB", flush=True)
            shutil.rmtree(out, ignore_errors=True)
    finally:
        nginx.stop()
    if args.quick:
        print("quick mode: bench/scale-out-results.md left as it is")
        return
    base, repeated, grown = scale["base"], scale["repeats"], scale["examples"]
    html_mb = grown["html_mb"]
    flat = repeated["rss"] / base["rss"]
    per_result = (repeated["rss"] - base["rss"]) * 1e6 / (repeated["results"] - base["results"])
    per_example = (grown["rss"] - base["rss"]) * 1e6 / (grown["examples"] - base["examples"])

    def scale_row(r):
        return f"| {r['results']:,} | {r['examples']:,} | {r['repeats']} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss']:.0f} |\n"
    text = f"""# Shards and merge at scale

Measured {time.strftime('%Y-%m-%d')} by `bench/run-scale-out` on {machine()}; evalkit built with `swift build -c release`.

## A builtin-only experiment on {examples:,} test examples, split over processes side by side

Each shard process loads the data and trains the builtin model (2,000 training examples, 5 epochs) itself, then
answers its part of the test examples; wall time from the first start to the last end. The merge reads the
shards' results and writes every report again.

| shard processes | wall (s) | merge (s) | answers equal to one process | report.md lines below the header that differ |
|---:|---:|---:|:---:|---:|
""" + "".join(table_row(r) for r in rows) + f"""
The lines that differ hold what each process measured for itself (each shard process's start of the model is
listed as a cold start of its own; latencies and training times where they differ between processes): {'; '.join(sorted({line[:60] + '…' for r in rows for line in r['differing']})) or 'none'}. With the same
measured answers (from the response cache) the merged report.md, summary.csv and analysis.json are byte-identical
below the header to one process's; the test suite checks that (ShardTests).

## Merging and analysing many results

Four shards of a prompted experiment (4 prompts, answered by nginx on 127.0.0.1), merged: `evalkit merge` reads and
checks every result, writes the merged results.jsonl and computes every report from it. First the same examples
answered more times (repeats), then more examples.

| results | test examples | repeats | wall (s) | CPU (s) | peak memory (MB) |
|---:|---:|---:|---:|---:|---:|
""" + scale_row(base) + scale_row(repeated) + scale_row(grown) + f"""
Targets: 1,000,000 results merged and analysed in under 15 s ({'met' if max(repeated['wall'], grown['wall']) < 15 else 'not met'}: {repeated['wall']:.1f} s and {grown['wall']:.1f} s) and
500 MB ({'met' if max(repeated['rss'], grown['rss']) < 500 else 'not met'}: {repeated['rss']:.0f} and {grown['rss']:.0f} MB). Memory flat from {base['results']:,} to {repeated['results']:,} results
({'met' if flat <= 1.5 else 'not met'}: {flat:.2f}×, {per_result:.0f} bytes for each result added). A merge holds no result in memory: each is
written as it is read to a working file in the output folder (unlinked at once, so it goes with the process), put
in canonical order there a 4 MB window at a time, and read back through a few cached blocks by every statistic and
report; labels and other short strings that repeat are held once. What a result still costs in memory: one bit (has
it been seen), its two latencies while its candidate's percentiles are computed (exact p50 and p95 need them all; one
candidate at a time on each core), and its label probabilities, streaming figures or score parts where it has them
(none here).
What grows is held per example, not per result: {per_example:.0f} bytes for each test example added ({base['examples']:,} →
{grown['examples']:,} examples: {grown['rss'] / base['rss']:.1f}×). That is the test split itself (each example's input, which report.html
shows, its id and target), the data audit's 16-byte digest of each text, and each example's place in the canonical
order; the analysis pairs candidates example by example. report.html ({html_mb:.0f} MB at {grown['results']:,} results) is written
as it is encoded.
"""
    (ROOT / "bench/scale-out-results.md").write_text(text)
    print("wrote bench/scale-out-results.md")


if __name__ == "__main__":
    main()
