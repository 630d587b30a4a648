#!/usr/bin/env python3
"""Golden token ids for the BPE tokenizer families, from Hugging Face `tokenizers`.

Two kinds of reference, both written to tests/data/tokenizer/families/<family>.json:

* Real vocabularies (--vocab): llama.cpp's vocabulary-only test files
  (vendor/llama.cpp/models/ggml-vocab-<name>.gguf in the llama-cpp-python source
  distribution) come with <file>.inp/.out: test strings and the ids the model's own HF
  tokenizer gave for them (convert_hf_to_gguf_update.py). Those ids are copied as they are
  ("source": "hf-original"). For more strings, the GGUF's tokens and merges are loaded into
  an HF `tokenizers` BPE model with the family's pre-tokenizer written as tokenizer.json
  would (a Sequence of Split(regex, "isolated") steps, then ByteLevel without its regex; or
  for Gemma 4 a U+2581 space normalizer and byte fallback). That rebuilt tokenizer must
  reproduce every .out line first (the script stops otherwise); its ids are then the
  reference for the extra strings ("source": "hf-rebuilt").

* Families without a vocabulary here (--synthetic: deepseek-v3, gpt-4o/llama4, tekken):
  HF `tokenizers` trains a small byte-level BPE with the family's pre-tokenizer on a fixed
  corpus; the script writes it as a vocabulary-only GGUF (committed next to the fixture)
  and records HF's ids for the strings ("source": "hf-synthetic"). This checks the split
  rules and the merge loop against HF, not a real model's vocabulary.

Each fixture holds, per string: its UTF-8 bytes (hex) and the ids; encode with
add_special = false and special-token parsing on (every control/user-defined token is an HF
added token).

Usage:
  python3 scripts/golden/bpe_family_vectors.py --vocab $M/ggml-vocab-qwen35.gguf --family qwen35
  python3 scripts/golden/bpe_family_vectors.py --synthetic gpt-4o \
      --gguf-out tests/data/tokenizer/families/gpt-4o.gguf
Needs: tokenizers (0.23), gguf (0.19), numpy.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gguf import GGUFReader, GGUFWriter
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from pre_tokenizer_rules import FAMILIES  # noqa: E402

# Strings every family is checked on (besides the .inp strings of llama.cpp): whitespace
# runs, digits, CJK, emoji, mixed scripts, code, contractions and case runs. Characters are
# from Unicode <= 13 so that every implementation agrees on their categories.
COMMON = [
    " ", "  ", "   a", "\t\tx", "\n", "\n\n\n", " \n \n", "a  b   c    d", "end   ", "\r\n\r\nx",
    "tab\there", " \u00a0 x\u3000y",
    "3333", "1234567890", "3.14159", "1,000,000", " 42 ", "x2y3z", "\u0663\u0664\u0665 \u0968",
    "\u216b \u00bd \u2460\u2461", "ied 4 \u00bd months",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059\u3002",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8", "\u4e2d\u6587English\u6df7\u5408123",
    "\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48",
    "\U0001f999\U0001f999", "\U0001f44d\U0001f3fd ok", "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\U0001f1eb\U0001f1f7", "Hi \U0001f600!",
    "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440", "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645", "\u05e9\u05dc\u05d5\u05dd",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e", "\u0e44\u0e17\u0e22",
    "caf\u00e9 cafe\u0301 na\u00efve r\u00e9sum\u00e9", "\u00dcn\u00efc\u00f6d\u00e9",
    "def f(x):\n    return x**2\n", "if (a && b) { c++; }", "<div class=\"x\">hi</div>",
    "SELECT * FROM t WHERE id=7;", "x += 1  // comment", "path/to/file.txt",
    "https://example.com/a?b=c&d=e", "#include <stdio.h>\nint main() { return 0; }",
    "I'm DON'T we'll they'VE it's", "HelloWorld camelCaseString ALLCAPS XMLHttpRequest \u01c5ungla",
    "Hello, world! ... !!!??? \u00abquotes\u00bb \u2014 dash \u2013",
    "   multiple   spaces\n\n\tand\ttabs  ",
]


def read_gguf(path):
    r = GGUFReader(path)

    def field(key):
        f = r.fields.get(key)
        return None if f is None else f.contents()

    return {
        "model": field("tokenizer.ggml.model"),
        "pre": field("tokenizer.ggml.pre"),
        "tokens": field("tokenizer.ggml.tokens"),
        "types": field("tokenizer.ggml.token_type"),
        "merges": field("tokenizer.ggml.merges") or [],
    }


def split_merge(m):
    sp = m.find(" ", 1)
    return (m[:sp], m[sp + 1:])


def build_hf(v, family):
    regexes, ignore_merges = FAMILIES[family]
    vocab = {}
    for i, t in enumerate(v["tokens"]):
        vocab.setdefault(t, i)
    merges = [split_merge(m) for m in v["merges"]]
    spm_style = family == "gemma4"
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=ignore_merges,
                               byte_fallback=spm_style))
    splits = [pre_tokenizers.Split(Regex(r), "isolated") for r in regexes]
    if spm_style:
        tok.normalizer = normalizers.Replace(" ", "\u2581")
        tok.pre_tokenizer = pre_tokenizers.Sequence(splits)
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            splits + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        tok.decoder = decoders.ByteLevel()
    types = v["types"] or [1] * len(v["tokens"])
    special = [AddedToken(t, special=True, normalized=False)
               for t, ty in zip(v["tokens"], types) if ty in (3, 4) and t]
    tok.add_special_tokens(special)
    return tok


def special_strings(v):
    """Strings with the text of the vocab's control tokens in them (parsed as tokens)."""
    types = v["types"] or []
    ctl = [t for t, ty in zip(v["tokens"], types) if ty == 3 and t and "unused" not in t][:6]
    out = []
    for i in range(0, len(ctl), 2):
        a = ctl[i]
        b = ctl[i + 1] if i + 1 < len(ctl) else ctl[0]
        out.append(f"{a}user\nHello there!{b}\n")
        out.append(f" {a} text {b}{a}")
    return out


def read_llama_tests(vocab_path):
    inp, out = vocab_path + ".inp", vocab_path + ".out"
    if not (os.path.exists(inp) and os.path.exists(out)):
        return []
    texts = open(inp, encoding="utf-8").read().split("\n__ggml_vocab_test__\n")
    ids = open(out, encoding="utf-8").read().split("\n")
    pairs = []
    for k, text in enumerate(texts):
        if k >= len(ids) or (text == "" and k == len(texts) - 1):
            continue
        pairs.append((text, [int(x) for x in ids[k].split()]))
    return pairs


def corpus_lines():
    """Training text for synthetic vocabularies: the strings above, llama.cpp's test
    inputs if given, and prose in several scripts (fixed, so the vocab is reproducible)."""
    prose = [
        "The quick brown fox jumps over the lazy dog. It's 2024 and we're testing tokenizers!",
        "Tokenizers split text into words, then merge bytes into tokens by rank.",
        "\u4eca\u5929\u5929\u6c14\u5f88\u597d\uff0c\u6211\u4eec\u53bb\u516c\u56ed\u6563\u6b65\u3002"
        "\u4e2d\u6587\u548c\u82f1\u6587\u6df7\u5408\u3002",
        "\u3053\u3093\u306b\u3061\u306f\u3001\u4e16\u754c\u3002\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3002",
        "\u041c\u043e\u0441\u043a\u0432\u0430 \u2014 \u0441\u0442\u043e\u043b\u0438\u0446\u0430 "
        "\u0420\u043e\u0441\u0441\u0438\u0438. \u041f\u0440\u0438\u0432\u0435\u0442!",
        "def tokenize(text):\n    return [t for t in text.split() if t]\n",
        "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }",
        "Emoji: \U0001f600 \U0001f44d \U0001f999 \u2764\ufe0f and numbers 1234567 3.14 1,000",
    ]
    return prose * 20 + COMMON * 5


def train_synthetic(family, vocab_size):
    regexes, ignore_merges = FAMILIES[family]
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(r), "isolated") for r in regexes] +
        [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    specials = ["<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus_lines(), trainer)
    model = json.loads(tok.to_str())["model"]
    id_to_tok = {i: t for t, i in model["vocab"].items()}
    tokens = [id_to_tok[i] for i in range(len(id_to_tok))]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    types = [3 if t in specials else 1 for t in tokens]
    return {"model": "gpt2", "pre": family, "tokens": tokens, "types": types, "merges": merges}


def write_gguf(v, path, family):
    w = GGUFWriter(path, "llama")
    w.add_name(f"zinfer synthetic {family} vocabulary")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(family)
    w.add_token_list(v["tokens"])
    w.add_token_types(v["types"])
    w.add_token_merges(v["merges"])
    w.add_bos_token_id(v["tokens"].index("<s>"))
    w.add_eos_token_id(v["tokens"].index("</s>"))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", help="vocabulary GGUF (llama.cpp's ggml-vocab-*.gguf)")
    ap.add_argument("--family", help="row of FAMILIES for --vocab (default: the file's pre)")
    ap.add_argument("--synthetic", help="train a vocabulary for this family instead")
    ap.add_argument("--vocab-size", type=int, default=3000)
    ap.add_argument("--gguf-out", help="with --synthetic: where to write the GGUF")
    ap.add_argument("--vocab-name", help="file name the test looks the vocabulary up by")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    import tokenizers
    if args.synthetic:
        family = args.synthetic
        v = train_synthetic(family, args.vocab_size)
        write_gguf(v, args.gguf_out, family)
        v = read_gguf(args.gguf_out)
        pairs = []
        source = "hf-synthetic"
        vocab_name = os.path.basename(args.gguf_out)
    else:
        v = read_gguf(args.vocab)
        family = args.family or (v["pre"] if v["model"] == "gpt2" else v["model"])
        pairs = read_llama_tests(args.vocab)
        source = "hf-rebuilt"
        vocab_name = args.vocab_name or os.path.basename(args.vocab)
    hf = build_hf(v, family)

    vectors = []
    mismatched = 0
    for text, ids in pairs:
        mine = hf.encode(text, add_special_tokens=False).ids
        if mine != ids:
            mismatched += 1
            print(f"rebuilt HF tokenizer differs from the original on {text!r}:\n  {mine}\n  {ids}",
                  file=sys.stderr)
        vectors.append({"name": f"llama.cpp test {len(vectors)}", "source": "hf-original",
                        "bytes_hex": text.encode("utf-8").hex(), "ids": ids})
    if mismatched:
        sys.exit(f"{mismatched} of {len(pairs)} .out lines not reproduced; the rebuilt tokenizer "
                 "is not a faithful reference")
    seen = {v_["bytes_hex"] for v_ in vectors}
    for k, text in enumerate(COMMON + special_strings(v)):
        h = text.encode("utf-8").hex()
        if h in seen:
            continue
        seen.add(h)
        vectors.append({"name": f"common {k}", "source": source, "bytes_hex": h,
                        "ids": hf.encode(text, add_special_tokens=False).ids})

    fixture = {
        "generator": "scripts/golden/bpe_family_vectors.py",
        "reference": f"Hugging Face tokenizers {tokenizers.__version__}",
        "family": family,
        "vocab": vocab_name,
        "tokenizer_model": v["model"],
        "pre": v["pre"],
        "n_vocab": len(v["tokens"]),
        "original_lines_reproduced": len(pairs),
        "vectors": vectors,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(fixture, f, indent=1, ensure_ascii=True)
        f.write("\n")
    print(f"{family}: {len(vectors)} strings ({len(pairs)} HF originals) -> {args.out}")


if __name__ == "__main__":
    main()
