#!/usr/bin/env python3
"""Golden vectors from llama.cpp (llama-cpp-python) for SentencePiece-style GGUF vocabularies
(tokenizer.ggml.model = "llama", llama.cpp's LLAMA_VOCAB_TYPE_SPM).

Two fixtures:
  * a real model (Gemma 3 270M: 262k tokens, add_space_prefix = false, user-defined runs of
    spaces/tabs/newlines and HTML tags, <unusedN> control tokens);
  * a small synthetic SPM vocab written here as a GGUF with no tensors (`--make-synthetic`):
    it covers what Gemma does not — llama.cpp's SPM defaults (add_space_prefix and add_bos
    absent → true), byte fallback for most non-ASCII text, tied scores, and the right-strip
    attribute llama.cpp gives Phi-3's special tokens (general.name contains "phi-3").

For every test string (raw bytes, hex) the fixture records llama.cpp's ids with parse_special
false / true and with add_special, the concatenated token_to_piece bytes, and
llama_detokenize's output (which drops the leading space of the first piece when the vocab adds
a space prefix, and with remove_special drops BOS/EOS). Per vocab: BOS/EOS, add flags, the
EOG set and an FNV-1a 64 hash over every token's piece.

Chat templates are rendered with jinja2 as Hugging Face does (sandboxed, trim_blocks,
lstrip_blocks): Gemma 3's published template (google/gemma-3-270m-it tokenizer_config.json;
the 270M GGUF at hand is the base model and carries none) and Phi-3-mini's
(microsoft/Phi-3-mini-4k-instruct tokenizer_config.json), both committed as text in
tests/data/tokenizer/*.jinja.

Usage:
  python3 scripts/golden/spm_tokenizer_vectors.py --model .models/gemma-3-270m-q4_k_m.gguf \
      --out tests/data/tokenizer/gemma3_vectors.json
  python3 scripts/golden/spm_tokenizer_vectors.py --make-synthetic tests/data/tokenizer/spm_synthetic.gguf \
      --out tests/data/tokenizer/spm_synthetic_vectors.json
"""
import argparse
import collections
import ctypes
import math
import os
import sys

import numpy as np
from gguf import GGUFReader, GGUFWriter

import llama_cpp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_vectors import (COMMON_CONVERSATIONS, LONG_PARAGRAPH, Reference, chat_cases,  # noqa: E402
                              string_vector, vocab_fixture, write_fixture)
from tokenizer_vectors import test_strings as bpe_test_strings  # noqa: E402

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "tokenizer")


def test_strings():
    """The byte-level BPE list (whitespace, digits, punctuation, emoji, scripts, NFC/NFD,
    invalid UTF-8, ChatML text, long text) plus SPM-specific cases."""
    s = [
        ("gemma_turn", "<start_of_turn>user\nhi<end_of_turn>"),
        ("gemma_chat", "<bos><start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n"),
        ("gemma_controls", "<pad><eos><bos><unk><mask>"),
        ("gemma_unused", "<unused0> <unused42>x<unused98>"),
        ("gemma_image", "<start_of_image>pic<end_of_image>"),
        ("gemma_multimodal", "[multimodal] tag"),
        ("gemma_html", "<table><tr><td>1</td></tr></table> <h1>T</h1><strong>b</strong>"),
        ("s_tags", "<s>strike</s> and </s>"),
        ("gemma_partial_special", "<start_of_turn user <end_of_turn"),
        ("special_spaced", " <start_of_turn> model \n <end_of_turn> "),
        ("phi3_turns", "<|user|>\nhi<|end|>\n<|assistant|>\nhello<|end|><|endoftext|>"),
        ("phi3_spaced", "  <|user|>  spaced  <|end|>  x <|endoftext|>  y </s>  z <s>  w"),
        ("space_runs", "a  b   c    d" + " " * 40 + "e"),
        ("newline_runs", "x" + "\n" * 35 + "y\n\n\nz"),
        ("tab_runs", "\t\tindented\t\t\tcode" + "\t" * 33),
        ("space_newline_mix", " \n \n\n  \t\n"),
        ("leading_trailing", "   padded both sides   "),
        ("lower_block_char", "pre\u2581fix \u2581\u2581 x\u2581"),
        ("byte_fallback_rare", "\U00020000 \U0010fffd \ue000 \u0378 \U0001fae8"),
        ("single_letter", "a"),
        ("single_space_word", " a"),
        ("cr_only", "a\rb\r\rc"),
    ]
    out = bpe_test_strings()
    out += [(name, text.encode("utf-8")) for name, text in s]
    out.append(("long_text_x4", (LONG_PARAGRAPH * 4).encode("utf-8")))
    return out


class SpmReference(Reference):
    def detokenize_llama(self, ids, remove_special, unparse_special):
        arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
        cap = 1 << 16
        buf = ctypes.create_string_buffer(cap)
        n = llama_cpp.llama_detokenize(self.vocab, arr, len(ids), buf, cap, remove_special, unparse_special)
        assert 0 <= n <= cap, n
        return buf.raw[:n]


def load_template(name):
    with open(os.path.join(DATA_DIR, name), encoding="utf-8") as f:
        return f.read()


CONVERSATIONS = COMMON_CONVERSATIONS + [
    # Gemma keeps the system text as is (no trim) and trims turns with Python's str.strip().
    ("whitespace_edges", [
        {"role": "system", "content": " \t sys \u3000\n"},
        {"role": "user", "content": "\u00a0 question?\x1c\n\n"},
        {"role": "assistant", "content": "\x85answer\u2029"},
    ]),
    ("system_only", [{"role": "system", "content": "Only a system prompt."}]),
    ("empty_system", [{"role": "system", "content": ""}, {"role": "user", "content": "hi"}]),
    # Gemma's template raises on these; Phi-3's renders them.
    ("not_alternating", [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]),
    ("starts_with_assistant", [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}]),
    ("tool_role", [{"role": "user", "content": "a"}, {"role": "tool", "content": "{}"}]),
    ("empty", []),
]


# ---------------------------------------------------------------------------------------------
# Synthetic SPM vocab


CORPUS_EXTRA = (
    "The inference worker reads a model file, builds its tokenizer and answers requests in "
    "order. Each request names a prompt, a sampling temperature and a limit on the number of "
    "new tokens; the worker streams the generated text back as it is produced. Tokens that "
    "end a turn stop the generation, and the remaining budget is returned to the scheduler. "
    "Hello world! hello there, Hello again: the quick brown fox jumps over the lazy dog.")
SYNTH_SPECIALS = [  # (text, GGUF token type) appended after the pieces
    ("<|endoftext|>", 3), ("<|assistant|>", 4), ("<|system|>", 3), ("<|end|>", 3), ("<|user|>", 3),
    ("<|placeholder1|>", 3), ("<unused_0>", 3),
]


def synthetic_vocab():
    """<unk>, <s>, </s>, the 256 byte tokens, then every ▁-prefixed character n-gram (n <= 8)
    seen at least twice in a small corpus (frequent single characters included), scored by
    log-frequency rounded to 0.5 so that many scores tie, then Phi-3-style specials."""
    corpus = [CORPUS_EXTRA, LONG_PARAGRAPH] + [d.decode("utf-8", "replace") for _, d in bpe_test_strings()]
    counts = collections.Counter()
    for text in corpus:
        for word in text.replace("\n", " ").split(" "):
            if not word:
                continue
            w = "\u2581" + word
            for i in range(len(w)):
                for n in range(1, 9):
                    if i + n <= len(w):
                        counts[w[i:i + n]] += 1
    pieces = [(p, c) for p, c in counts.items() if c >= 2 and not (len(p) == 1 and ord(p) > 0x2FF and p != "\u2581")]
    pieces.sort(key=lambda pc: (-pc[1] * len(pc[0]), pc[0]))
    pieces = pieces[:3000]
    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    scores = [0.0, 0.0, 0.0] + [0.0] * 256
    for p, c in pieces:
        tokens.append(p)
        types.append(1)
        scores.append(-round(2 * (20 - math.log(c * len(p)))) / 2)
    for text, t in SYNTH_SPECIALS:
        tokens.append(text)
        types.append(t)
        scores.append(0.0)
    return tokens, types, scores


def make_synthetic(path):
    tokens, types, scores = synthetic_vocab()
    w = GGUFWriter(path, "llama")
    w.add_name("Phi-3 synthetic SPM vocab")
    # llama.cpp reads the hyperparameters even with vocab_only.
    w.add_context_length(128)
    w.add_embedding_length(64)
    w.add_block_count(1)
    w.add_feed_forward_length(128)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([float(np.float32(x)) for x in scores])
    w.add_token_types(types)
    # add_space_prefix, add_bos_token and the special ids are left out on purpose: llama.cpp's
    # SPM defaults apply (space prefix on, BOS = 1, EOS = 2, UNK = 0, add BOS).
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--make-synthetic", metavar="GGUF")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.make_synthetic:
        make_synthetic(args.make_synthetic)
        args.model = args.make_synthetic
    if not args.model:
        ap.error("--model or --make-synthetic is required")

    fields = GGUFReader(args.model).fields
    ref = SpmReference(args.model)
    tokens = fields["tokenizer.ggml.tokens"].contents()

    vectors = []
    for name, data in test_strings():
        v = string_vector(ref, name, data)
        # llama_detokenize(ids, remove_special=false, unparse_special=false) and
        # (ids_add_special, remove_special=true, unparse_special=true).
        v["detok_hex"] = ref.detokenize_llama(v["ids"], False, False).hex()
        v["detok_add_special_hex"] = ref.detokenize_llama(v["ids_add_special"], True, True).hex()
        vectors.append(v)

    out = vocab_fixture(ref, "scripts/golden/spm_tokenizer_vectors.py", args.model, vectors)
    bos, eos = out["bos"], out["eos"]
    if not args.make_synthetic:
        gemma = load_template("gemma3_chat_template.jinja")
        phi3 = load_template("phi3_mini_chat_template.jinja")
        out["gemma3_chat"] = chat_cases(gemma, tokens[bos], tokens[eos], CONVERSATIONS)
        out["phi3_chat"] = chat_cases(phi3, "<s>", "<|endoftext|>", CONVERSATIONS)
    write_fixture(out, args.out)
    print(f"wrote {len(vectors)} vectors to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
