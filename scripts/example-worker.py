#!/usr/bin/env python3
"""An example `command` worker for evalkit: reads one JSON request per line on stdin and
writes one JSON answer per line on stdout (see README, "The worker protocol").

Replace `answer()` with a call to your own model (e.g. a Hugging Face transformers pipeline
loaded once at start-up). This one is a keyword rule, so it needs nothing but Python.
Requests whose input contains WORKER_ERROR are answered with an error, to show that path.
"""
import json, sys


def answer(request):
    text = request["input"].lower()
    if "love" in text or "great" in text or "thank" in text:
        return "positive"
    if "hate" in text or "awful" in text or "never" in text:
        return "negative"
    return "neutral"


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if "WORKER_ERROR" in request["input"]:
            reply = {"id": request["id"], "error": "the model refused this input"}
        else:
            output = answer(request)
            reply = {"id": request["id"], "output": output,
                     "usage": {"input_tokens": len(request["prompt"].split()), "output_tokens": 1}}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
