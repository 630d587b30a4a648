#!/usr/bin/env python3
"""Golden greedy tokens and logits from llama.cpp (llama-cpp-python) for a GGUF model.

The fixture written here is the independent reference that our CPU engine must match
(tests/engine/model/golden_tokens_test.cpp). For every prompt it records the prompt token
ids (llama.cpp's tokenizer), the top-k logits of every prompt position, and a 64-step
greedy continuation done by hand (decode, argmax, decode the argmax) with the top-k
(id, logit) pairs and the top-1/top-2 margin of each step. Generation never stops at
EOS: the test checks the forward pass, not the stop logic.

llama.cpp is configured to stay as close to plain float math as it allows: F32 KV cache
(the default F16 cache would round K and V), no flash attention, a fixed thread count.
Its matmuls still quantize activations to Q8 for quantized weights, which is what our
engine mimics with exact_matmul=false.

Usage:
  python3 scripts/golden/model_goldens.py --model .models/SmolLM2-135M-Instruct.Q4_1.gguf \
      --out tests/data/golden/smollm2_greedy.json
"""
import argparse
import json
import os
import sys

from gguf import GGUFReader

import llama_cpp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from greedy_reference import case_record, file_sha256, greedy_run  # noqa: E402
from tokenizer_vectors import render_chat  # noqa: E402

N_GENERATE = 64
TOP_K = 20          # top-k pairs kept per generated step
PROMPT_TOP_K = 5    # top-k pairs kept per prompt position
NEAR_TIE = 0.05     # margins below this are reported as possible flips
SEED = 1234
SETTINGS = dict(n_threads=2, n_threads_batch=2, n_ctx=2048, n_batch=512, n_ubatch=512,
                flash_attn=False, type_k=0, type_v=0, logits_all=True, seed=SEED,
                use_mmap=True, n_gpu_layers=0, offload_kqv=False)

LONG_TEXT = (
    "The lighthouse keeper's log for the winter of 1887 survives almost complete, and it is "
    "one of the best records we have of how a small coastal station actually worked. Each "
    "morning he noted the barometer, the wind direction and the state of the sea, then the "
    "amount of oil burned during the night, which rarely fell below four gallons in December. "
    "Supply boats were supposed to arrive every second Thursday, but storms delayed them so "
    "often that he kept a separate page for rationing: flour, salt pork, tea, lamp wicks and "
    "coal, each with a running total. In January the ice closed the harbour for nineteen days. "
    "He wrote that the light was never dark for a single hour, although twice the clockwork "
    "that turned the lens froze and he and his assistant took turns rotating it by hand until "
    "dawn. Ships passing the headland would sometimes signal their thanks with a flag or a "
    "short blast of the horn, and he recorded every one of them by name. The last entry of the "
    "season describes the first fishing boats returning in March, the snow melting from the "
    "cliffs, and a request to the board for a new set of brass fittings, since the old ones "
    "had cracked in the cold. Historians value the log less for any single event than for its "
    "steady detail, which lets us reconstruct the rhythm of a year in a place where nothing "
    "dramatic was supposed to happen. Reading it today, what stands out most is"
)


def prompt_cases():
    """(name, kind, payload): kind 'text' payload is raw text, 'chat' payload is messages."""
    return [
        ("english", "text", "The history of the printing press begins in"),
        ("chat_single", "chat",
         [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]),
        ("code", "text",
         "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"),
        ("unicode", "text",
         "Café, naïve, Zürich, São Paulo — 東京は日本の首都です。北京是中国的首都。"
         "Emoji: 🎉🚀👍🏽 and Ελληνικά: καλημέρα. Translation:"),
        ("numbers_list", "text",
         "Shopping list:\n1. 12 eggs\n2. 3.5 kg of flour\n3. 250 ml of milk\n4."),
        ("long", "text", LONG_TEXT),
        ("one_token", "text", "Hello"),
        ("multi_turn", "chat",
         [{"role": "system", "content": "You are a concise assistant. Reply briefly."},
          {"role": "user", "content": "Name three primary colors."},
          {"role": "assistant", "content": "Red, yellow and blue."},
          {"role": "user", "content": "Which of them is the warmest, and why?"}]),
        # Control-token text that must NOT be parsed as a control token.
        ("special_as_text", "text",
         "The ChatML marker <|im_start|>user starts a turn and <|im_end|> ends it. So"),
        # Pre-tokenizer edge cases: runs of spaces, tabs, CRLF, digits, contractions.
        ("whitespace", "text",
         "  Indented   text\twith\ttabs\r\n\r\nand 1234567 digits, it's   we'll  "),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    reader = GGUFReader(args.model)

    def meta(key, default=None):
        f = reader.fields.get(key)
        return default if f is None else f.contents()

    arch = meta("general.architecture")
    add_bos = bool(meta("tokenizer.ggml.add_bos_token", False))
    template = meta("tokenizer.chat_template")
    tokens = meta("tokenizer.ggml.tokens")
    bos_id, eos_id = meta("tokenizer.ggml.bos_token_id"), meta("tokenizer.ggml.eos_token_id")
    bos_txt = tokens[bos_id] if bos_id is not None else ""
    eos_txt = tokens[eos_id] if eos_id is not None else ""
    del reader

    llm = llama_cpp.Llama(model_path=args.model, verbose=False, **SETTINGS)
    n_vocab = llm.n_vocab()
    vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
    eog_ids = [i for i in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, i)]

    cases, near_ties = [], []
    for name, kind, payload in prompt_cases():
        if kind == "chat":
            text, parse_special, messages = render_chat(template, payload, True, bos_txt, eos_txt), True, payload
        else:
            text, parse_special, messages = payload, False, None
        ids = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=parse_special)
        if name == "one_token" and len(ids) != 1:
            sys.exit(f"one_token prompt tokenized to {len(ids)} tokens: {ids}")

        run = greedy_run(llm, ids, N_GENERATE, TOP_K, PROMPT_TOP_K)
        steps, margins = run[2], run[3]
        for step, margin in enumerate(margins):
            if margin < NEAR_TIE:
                near_ties.append({"case": name, "step": step, "margin": round(margin, 6),
                                  "top2": steps[step]["top_ids"][:2]})
        case = case_record(llm, name, kind, text, parse_special, add_bos, ids, run, eog_ids, messages)
        cases.append(case)
        print(f"{name}: {len(ids)} prompt tokens, min margin "
              f"{min(s['margin'] for s in steps):.5f}, eog at {case['eog_steps']}", file=sys.stderr)

    out = {
        "format": 1,
        "reference": {"tool": "llama-cpp-python", "version": llama_cpp.__version__,
                      "system_info": llama_cpp.llama_print_system_info().decode(),
                      "settings": SETTINGS,
                      "greedy": "argmax of the last position's logits, first index on ties; "
                                "no stop at EOS"},
        "model": {"file": os.path.basename(args.model), "sha256": file_sha256(args.model),
                  "size": os.path.getsize(args.model),
                  "architecture": arch, "n_vocab": n_vocab, "add_bos": add_bos,
                  "bos_id": bos_id, "eos_id": eos_id, "eog_ids": eog_ids},
        "n_generate": N_GENERATE, "top_k": TOP_K, "prompt_top_k": PROMPT_TOP_K,
        "near_tie_threshold": NEAR_TIE, "near_ties": near_ties,
        "cases": cases,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes); near ties: {near_ties}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
