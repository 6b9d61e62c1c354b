#!/usr/bin/env python3
"""An evalkit `command` worker that serves SmolLM2 with a PEFT adapter llama.cpp cannot apply (IA3, prompt
tuning) through Hugging Face Transformers on CPU.

    scripts/peft-worker.py --model-gguf .venv/models/SmolLM2-135M-Instruct.Q4_1.gguf --adapter DIR

The base model is loaded from the GGUF file the way scripts/finetune_lora.py trained on it (dequantised to
float32), the adapter from DIR (adapter_config.json + adapter_model.safetensors). Requests come one JSON
line at a time on stdin (README, "The worker protocol"). With "scoring": "likelihood" it answers the
prompt's next-token log-probabilities ("top_logprobs", the top N tokens as decoded text), which evalkit
reads into a label exactly as it reads llama.cpp's; otherwise it generates greedily up to max_tokens and
cuts at the first stop string. Runs with .venv-finetune's Python (scripts/finetune-lora sets it up).
"""
import argparse
import json
import os
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-gguf", required=True)
    p.add_argument("--adapter", required=True, help="a PEFT adapter directory")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the stderr evalkit shows in errors
    import torch
    import peft
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    model_dir, model_file = os.path.split(os.path.abspath(args.model_gguf))
    tokenizer = AutoTokenizer.from_pretrained(model_dir, gguf_file=model_file)
    model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=model_file, dtype=torch.float32)
    model.is_quantized = False  # dequantised on load, as in training
    model.hf_quantizer = None
    model = peft.PeftModel.from_pretrained(model, args.adapter)
    model.eval()
    print(f"peft-worker: {model_file} with the adapter in {args.adapter}, ready", file=sys.stderr, flush=True)

    for line in sys.stdin:
        if not line.strip():
            continue
        request_id = None
        try:
            request = json.loads(line)
            request_id = request["id"]
            ids = tokenizer(request["prompt"], add_special_tokens=True, return_tensors="pt")["input_ids"]
            with torch.no_grad():
                if request.get("scoring") == "likelihood":
                    logits = model(input_ids=ids).logits[0, -1]
                    values, indices = torch.topk(torch.log_softmax(logits.float(), dim=-1), int(request.get("top_logprobs", 20)))
                    top = {}
                    for value, index in zip(values.tolist(), indices.tolist()):
                        token = tokenizer.decode([index])
                        top[token] = max(top.get(token, -1e9), value)  # two ids can decode alike
                    reply = {"id": request_id, "top_logprobs": top, "usage": {"input_tokens": ids.shape[1], "output_tokens": 1}}
                else:
                    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=int(request.get("max_tokens", 16)),
                                         do_sample=False, pad_token_id=tokenizer.eos_token_id)
                    new = out[0, ids.shape[1]:]
                    text = tokenizer.decode(new, skip_special_tokens=True)
                    for stop in request.get("stop") or []:
                        if stop and stop in text:
                            text = text[: text.index(stop)]
                    reply = {"id": request_id, "output": text, "usage": {"input_tokens": ids.shape[1], "output_tokens": int(new.shape[0])}}
        except Exception as error:  # one bad request is a recorded failure, not the end of the worker
            reply = {"id": request_id, "error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
