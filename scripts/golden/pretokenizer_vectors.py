#!/usr/bin/env python3
"""Reference word splits of the byte-level BPE pre-tokenizers, from the regexes llama.cpp
uses (llama-vocab.cpp), run by Python's `regex` module (which has \\p{L}, and whose \\s is
Unicode White_Space like llama.cpp's, not str.isspace()).

Splitting follows llama.cpp's unicode_regex_split: every match is a piece and so is the text
between matches; with several regexes each one runs inside the pieces of the previous one.
This is the independent check of the llama3 pattern (no llama3 GGUF is at hand) and a
second check of the others, which tokenizer_vectors.py also covers end to end.

Usage: python3 scripts/golden/pretokenizer_vectors.py --out tests/data/tokenizer/pretokenizer_vectors.json
"""
import argparse
import json
import os
import sys

import regex

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pre_tokenizer_rules import DEFAULT, FAMILIES  # noqa: E402
from tokenizer_vectors import test_strings  # noqa: E402

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
         r"|\s*[\r\n]+|\s+(?!\S)|\s+")

KINDS = {
    "gpt2": [GPT2],
    "digits_gpt2": [r"\p{N}", GPT2],
    "llama3": [LLAMA3],
    "qwen2": [QWEN2],
    "default": DEFAULT,
}
# Every other family of pre_tokenizer_rules.py, keyed by its tokenizer.ggml.pre name.
for _name in ("qwen35", "deepseek-llm", "deepseek-coder", "deepseek-v3", "falcon", "gpt-4o", "tekken",
              "gemma4"):
    KINDS[_name] = FAMILIES[_name][0]

EXTRA = [
    "don't DON'T Don'T it's IT'S we'LL they'Ve",
    "12345678 1234567 x123y 3.14",
    "  leading and trailing  ",
    "a\n\nb\r\n\r\nc \n d\t\n\te",
    "hello!!!\n\nworld???\r\n",
    "(abc) [def] {ghi} 'quoted' \"dq\"",
    "tab\tbetween\t\twords\t",
    "\u00a0nbsp\u3000ideographic\u2003em",
    "٣٤٥ ١٢ Ⅻ ½",
    "x\u0301y\u0308 z",
    "  \n  ",
    " ",
    "' '' ''' 's",
]


def split(pattern, pieces):
    out = []
    for piece in pieces:
        pos = 0
        for m in regex.finditer(pattern, piece):
            if m.start() > pos:
                out.append(piece[pos:m.start()])
            if m.end() > m.start():
                out.append(m.group())
            pos = m.end()
        if pos < len(piece):
            out.append(piece[pos:])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    texts = []
    for _, data in test_strings():
        try:
            texts.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            continue  # invalid UTF-8 is llama.cpp's decoder's business, tested elsewhere
    texts += EXTRA
    cases = []
    for text in texts:
        if not text:
            continue
        case = {"text": text}
        for kind, patterns in KINDS.items():
            pieces = [text]
            for p in patterns:
                pieces = split(p, pieces)
            assert "".join(pieces) == text
            case[kind] = pieces
        cases.append(case)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"generator": "scripts/golden/pretokenizer_vectors.py", "regex_module": regex.__version__,
                   "patterns": {k: v for k, v in KINDS.items()}, "cases": cases}, f, ensure_ascii=True, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
