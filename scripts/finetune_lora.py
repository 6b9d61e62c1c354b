"""LoRA (or IA3) fine-tune of SmolLM2-135M-Instruct with Hugging Face Transformers + PEFT.

Reads prompt/completion JSONL written by `evalkit export-finetune` and writes, into --out:
  adapter/               the PEFT adapter of the best checkpoint (lowest validation loss)
  base-config/config.json the base model's config, for llama.cpp's convert_lora_to_gguf.py
  trainer_state.json     Hugging Face's log_history: training and validation loss, train_runtime
  training.json          what produced it: arguments, seed, versions, measured seconds
Run it through scripts/finetune-lora, which sets up the venv, the data and the GGUF conversion.
"""
import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path


def parse_arguments():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-gguf", required=True, help="the base model as GGUF (dequantised to float32 on load)")
    p.add_argument("--train", required=True, help="prompt-completion.jsonl of the training split")
    p.add_argument("--validation", required=True, help="prompt-completion JSONL of the validation split")
    p.add_argument("--out", required=True)
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--max-steps", type=int, default=-1, help="optimizer steps; overrides --epochs when > 0")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--gradient-accumulation", type=int, default=1)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup-steps", type=int, default=5)
    p.add_argument("--eval-steps", type=int, default=10, help="evaluate on the validation sample every N steps")
    p.add_argument("--evals-per-epoch", type=int, default=0,
                   help="evaluate this many times an epoch instead of every --eval-steps (the same schedule for every training-set size)")
    p.add_argument("--eval-examples", type=int, default=128, help="validation examples per evaluation (seeded sample)")
    p.add_argument("--early-stopping-patience", type=int, default=3, help="evaluations without improvement before stopping")
    p.add_argument("--method", choices=["lora", "ia3"], default="lora",
                   help="lora: low-rank updates of every attention and MLP projection; ia3: learnt scaling of keys, values and the MLP's down projection (PEFT's defaults for Llama)")
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--lora-alpha", type=int, default=32)
    p.add_argument("--lora-dropout", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=7)
    return p.parse_args()


def read_jsonl(path, limit, rng):
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row.get("prompt"), str) or not isinstance(row.get("completion"), str):
                sys.exit(f"{path}:{number}: expected an object with string fields \"prompt\" and \"completion\"")
            rows.append(row)
    if not rows:
        sys.exit(f"{path}: no examples")
    if 0 < limit < len(rows):
        rows = rng.sample(rows, limit)
    return rows


def main():
    args = parse_arguments()
    import torch
    import transformers
    import peft
    from transformers import AutoModelForCausalLM, AutoTokenizer, EarlyStoppingCallback, Trainer, TrainingArguments

    rng = random.Random(args.seed)
    transformers.set_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model_dir, model_file = os.path.split(os.path.abspath(args.model_gguf))

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model_dir, gguf_file=model_file)
    model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=model_file, dtype=torch.float32)
    load_seconds = time.perf_counter() - started
    # The GGUF weights are dequantised to float32 on load, yet the model stays marked as quantised,
    # which Trainer refuses to train; it is a plain float32 model now.
    model.is_quantized = False
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    print(f"loaded {model_file} in {load_seconds:.1f} s", flush=True)

    # llama.cpp's converter needs the base config as a Hugging Face model directory would hold it.
    config = model.config.to_dict()
    config.pop("quantization_config", None)
    config["architectures"] = ["LlamaForCausalLM"]
    (out / "base-config").mkdir(exist_ok=True)
    (out / "base-config" / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def encode(row):
        prompt_ids = tokenizer(row["prompt"], add_special_tokens=True)["input_ids"]
        full_ids = tokenizer(row["prompt"] + row["completion"], add_special_tokens=True)["input_ids"]
        if full_ids[: len(prompt_ids)] != prompt_ids:  # the answer must start at a token boundary
            full_ids = prompt_ids + tokenizer(row["completion"], add_special_tokens=False)["input_ids"]
        full_ids = full_ids + [tokenizer.eos_token_id]
        # Loss on the answer only: the prompt is given, not learnt.
        return {"input_ids": full_ids, "labels": [-100] * len(prompt_ids) + full_ids[len(prompt_ids):]}

    # evalkit export-finetune --train-examples chooses the training subset (label-stratified, as evalkit's builtin model does).
    train = [encode(r) for r in read_jsonl(args.train, 0, rng)]
    validation = [encode(r) for r in read_jsonl(args.validation, args.eval_examples, rng)]

    def collate(batch):
        width = max(len(b["input_ids"]) for b in batch)
        ids = [b["input_ids"] + [pad_id] * (width - len(b["input_ids"])) for b in batch]
        labels = [b["labels"] + [-100] * (width - len(b["labels"])) for b in batch]
        mask = [[1] * len(b["input_ids"]) + [0] * (width - len(b["input_ids"])) for b in batch]
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}

    if args.method == "ia3":
        adapter_config = peft.IA3Config(task_type="CAUSAL_LM")
        described = "IA3"
    else:
        adapter_config = peft.LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout, task_type="CAUSAL_LM",
                                         target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
        described = f"LoRA r={args.lora_r}"
    model = peft.get_peft_model(model, adapter_config)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"{described}: {trainable:,} trainable parameters; {len(train)} training and {len(validation)} validation examples", flush=True)
    if args.evals_per_epoch > 0:
        steps_per_epoch = -(-len(train) // (args.batch_size * args.gradient_accumulation))
        args.eval_steps = max(1, round(steps_per_epoch / args.evals_per_epoch))

    checkpoints = out / "checkpoints"
    training_args = TrainingArguments(
        output_dir=str(checkpoints), seed=args.seed, data_seed=args.seed,
        learning_rate=args.learning_rate, num_train_epochs=args.epochs, max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=args.batch_size,
        gradient_accumulation_steps=args.gradient_accumulation, weight_decay=args.weight_decay,
        warmup_steps=args.warmup_steps, lr_scheduler_type="linear",
        eval_strategy="steps", eval_steps=args.eval_steps, save_strategy="steps", save_steps=args.eval_steps,
        logging_strategy="steps", logging_steps=max(1, args.eval_steps // 2),
        load_best_model_at_end=True, metric_for_best_model="eval_loss", greater_is_better=False, save_total_limit=2,
        remove_unused_columns=False, report_to=[], dataloader_num_workers=0, disable_tqdm=True,
        use_cpu=not torch.cuda.is_available())
    trainer = Trainer(model=model, args=training_args, train_dataset=train, eval_dataset=validation, data_collator=collate,
                      callbacks=[EarlyStoppingCallback(early_stopping_patience=args.early_stopping_patience)])
    started = time.perf_counter()
    result = trainer.train()
    train_seconds = time.perf_counter() - started
    trainer.state.save_to_json(str(out / "trainer_state.json"))
    model.save_pretrained(str(out / "adapter"))

    record = {
        "command": os.environ.get("FINETUNE_COMMAND") or " ".join(["scripts/finetune_lora.py"] + sys.argv[1:]),
        "training_data": os.environ.get("FINETUNE_DATA"),
        "seed": args.seed,
        "method": described,
        "arguments": vars(args),
        "train_examples": len(train), "validation_examples": len(validation),
        "trainable_parameters": trainable,
        "steps": trainer.state.global_step,
        "best_checkpoint": trainer.state.best_model_checkpoint, "best_eval_loss": trainer.state.best_metric,
        "train_runtime_seconds": round(result.metrics["train_runtime"], 2),
        "wall_seconds_training": round(train_seconds, 2), "wall_seconds_model_load": round(load_seconds, 2),
        "device": "cuda: " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu: {os.cpu_count()} cores, {torch.get_num_threads()} torch threads",
        "machine": platform.platform(),
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"trained {record['steps']} steps in {train_seconds:.1f} s; best eval_loss {trainer.state.best_metric} at {trainer.state.best_model_checkpoint}", flush=True)


if __name__ == "__main__":
    main()
