#!/usr/bin/env python3
"""Prompts and llama.cpp goldens for Gemma 3 (tests/data/golden/gemma3_llamacpp.json).

Writes the same "cases" layout as scripts/golden/model_goldens.py (prompt text, llama.cpp's
prompt ids, top-k logits per prompt position, a 64-step hand-driven greedy continuation with
the top-k and top-1/top-2 margin of every step). Its prompt ids are the inputs of
scripts/golden/hf_goldens.py, which produces the transformers goldens the C++ test
(tests/engine/model/gemma3_golden_test.cpp) asserts against.

Gemma 3 specifics:
  - the GGUF has no tokenizer.chat_template, so chat prompts are written in Gemma's turn
    format by hand ("<start_of_turn>user\\n...<end_of_turn>\\n<start_of_turn>model\\n") and
    tokenized with parse_special=True; add_bos_token is true, so llama.cpp prepends <bos>;
  - the "long" prompt is longer than the 512-token sliding window of the local layers.

llama.cpp runs with an F32 KV cache and no flash attention; its matmuls still quantize
activations to Q8, so its logits sit between our exact and default paths.

Usage: gemma3_goldens.py --model .models/gemma-3-270m-q4_k_m.gguf \
           --out tests/data/golden/gemma3_llamacpp.json
"""
import argparse
import json
import os
import sys

import llama_cpp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from greedy_reference import case_record, file_sha256, greedy_run  # noqa: E402

N_GENERATE = 64
TOP_K = 10
PROMPT_TOP_K = 3
SETTINGS = dict(n_threads=2, n_threads_batch=2, n_ctx=2048, n_batch=512, n_ubatch=512,
                flash_attn=False, type_k=0, type_v=0, logits_all=True, seed=1234,
                use_mmap=True, n_gpu_layers=0, offload_kqv=False)
SLIDING_WINDOW = 512

# Original text, long enough (> 512 Gemma tokens) that the local layers' window slides.
LONG_TEXT = (
    "Chapter One. The survey ship Marguerite left the northern harbour on a grey morning in "
    "early April, carrying eleven crew, two scientists, a cat that nobody admitted to owning, "
    "and enough fuel for a voyage of six weeks. Her task was simple to describe and difficult "
    "to carry out: to measure the depth of the channel between the outer islands, where the "
    "old charts were known to be wrong, and to mark every rock that might tear the hull of a "
    "ferry. The captain, a quiet woman named Ilse Marten, had sailed those waters for twenty "
    "years and trusted none of the printed maps. She kept her own notebook of soundings, "
    "written in pencil and corrected every season, and she was the only person aboard who "
    "could read her handwriting. The younger of the two scientists, Tomas, had brought a new "
    "echo sounder that drew the shape of the sea floor on a roll of paper, line by line, as "
    "the ship moved. On the first day he watched it for hours, fascinated by the ridges and "
    "valleys that appeared beneath the needle, and he was disappointed when the captain told "
    "him that the machine was only as good as the person who checked it against a lead line. "
    "On the third day the wind turned to the east and the swell grew long and heavy. Work "
    "slowed; every measurement had to be taken twice, and the cook complained that nothing "
    "stayed on the stove. In the evenings the crew gathered in the small mess to play cards "
    "and argue about football, while the scientists compared their numbers with the old "
    "charts. The differences were larger than anyone had expected. In one place a bank of "
    "sand had moved almost half a mile to the south; in another a channel marked as deep "
    "enough for large vessels was now barely three metres at low tide. Tomas drew the new "
    "contours on tracing paper and laid them over the printed chart, and the captain studied "
    "them for a long time without speaking. Then she said that the ferry company would not "
    "like the report, but that it would have to read it anyway. By the second week the "
    "weather cleared. The sea became so calm that the islands seemed to float above their "
    "own reflections, and the crew worked from dawn until the light failed. They found a "
    "wreck that appeared on no list, an iron steamer lying on her side in forty metres of "
    "water, and they spent a whole afternoon mapping her outline so that divers could find "
    "her later. The older scientist, Mrs. Okafor, who had studied the history of the coast, "
    "believed it was a cargo ship lost in a winter storm more than a century ago, carrying "
    "coal and roofing slate to the towns of the south. She wrote a letter to the maritime "
    "museum that same night, and she read it aloud to the crew, who listened more politely "
    "than they listened to anything else she said. When the Marguerite finally turned for "
    "home, her notebooks held more than nine thousand soundings, forty new hazards and one "
    "shipwreck. The captain added her own pencilled corrections to the last page, closed the "
    "book, and asked Tomas what he had learned. He thought about it for a moment and said"
)

GEMMA_TURN = "<start_of_turn>{role}\n{content}<end_of_turn>\n"


def gemma_chat(messages):
    """Gemma 3's chat format (its Jinja template folds a system message into the first user
    turn and names the assistant 'model'), ending with the generation prompt."""
    msgs = list(messages)
    prefix = ""
    if msgs and msgs[0]["role"] == "system":
        prefix = msgs.pop(0)["content"] + "\n\n"
    out = []
    for i, m in enumerate(msgs):
        role = "model" if m["role"] == "assistant" else m["role"]
        out.append(GEMMA_TURN.format(role=role, content=(prefix if i == 0 else "") + m["content"].strip()))
    return "".join(out) + "<start_of_turn>model\n"


def prompt_cases():
    return [
        ("english", "text", "The history of the printing press begins in"),
        ("chat_single", "chat",
         [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]),
        ("code", "text", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"),
        ("unicode", "text",
         "Café, naïve, Zürich, São Paulo — 東京は日本の首都です。北京是中国的首都。"
         "Emoji: 🎉🚀👍🏽 and Ελληνικά: καλημέρα. Translation:"),
        ("numbers_list", "text", "Shopping list:\n1. 12 eggs\n2. 3.5 kg of flour\n3. 250 ml of milk\n4."),
        ("long", "text", LONG_TEXT),
        ("one_token", "text", "Hello"),
        ("multi_turn", "chat",
         [{"role": "system", "content": "You are a concise assistant. Reply briefly."},
          {"role": "user", "content": "Name three primary colors."},
          {"role": "assistant", "content": "Red, yellow and blue."},
          {"role": "user", "content": "Which of them is the warmest, and why?"}]),
        ("whitespace", "text", "  Indented   text\twith\ttabs\r\n\r\nand 1234567 digits, it's   we'll  "),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    llm = llama_cpp.Llama(model_path=args.model, verbose=False, **SETTINGS)
    n_vocab = llm.n_vocab()
    vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
    eog_ids = [i for i in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, i)]
    add_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))

    cases = []
    for name, kind, payload in prompt_cases():
        text = gemma_chat(payload) if kind == "chat" else payload
        parse_special = kind == "chat"
        ids = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=parse_special)
        if name == "one_token" and len(ids) != 2:  # <bos> Hello
            sys.exit(f"one_token prompt tokenized to {ids}")
        if name == "long" and len(ids) <= SLIDING_WINDOW:
            sys.exit(f"long prompt has only {len(ids)} tokens; it must exceed the sliding window")
        run = greedy_run(llm, ids, N_GENERATE, TOP_K, PROMPT_TOP_K)
        case = case_record(llm, name, kind, text, parse_special, add_bos, ids, run, eog_ids,
                           payload if kind == "chat" else None)
        cases.append(case)
        print(f"{name}: {len(ids)} prompt tokens, min margin {min(s['margin'] for s in run[2]):.5f}, "
              f"eog at {case['eog_steps']}: {case['generated_text'][:60]!r}", file=sys.stderr)

    out = {
        "format": 1,
        "reference": {"tool": "llama-cpp-python", "version": llama_cpp.__version__, "settings": SETTINGS,
                      "greedy": "argmax of the last position's logits, first index on ties; no stop at EOS",
                      "chat_format": "Gemma turns written by hand (the GGUF has no chat template)"},
        "model": {"file": os.path.basename(args.model), "sha256": file_sha256(args.model),
                  "size": os.path.getsize(args.model), "architecture": "gemma3", "n_vocab": n_vocab,
                  "add_bos": add_bos, "eog_ids": eog_ids},
        "n_generate": N_GENERATE, "top_k": TOP_K, "prompt_top_k": PROMPT_TOP_K,
        "cases": cases,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
