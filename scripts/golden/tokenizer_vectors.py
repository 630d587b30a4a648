#!/usr/bin/env python3
"""Golden tokenizer vectors from llama.cpp (llama-cpp-python) for byte-level BPE GGUF models.

For every test string (kept as raw bytes, hex-encoded, so that invalid UTF-8 is covered too)
the fixture records llama.cpp's token ids with parse_special false and true, with add_special,
and the bytes llama.cpp's token_to_piece gives back for those ids. Per model it also records
BOS/EOS, add_bos/add_eos, the end-of-generation set, and an FNV-1a 64 hash over every
token's piece (special rendering on and off) so that all pieces are checked, not only the
ones the strings reach.

Chat templates are rendered with jinja2 exactly as Hugging Face's apply_chat_template does
(sandboxed, trim_blocks, lstrip_blocks) from the template stored in each GGUF, and from the
Llama 3 template (Meta-Llama-3-8B-Instruct's tokenizer_config.json; no such GGUF is at hand).

Usage:
  python3 scripts/golden/tokenizer_vectors.py \
      --model .models/SmolLM2-135M-Instruct.Q4_1.gguf --out tests/data/tokenizer/smollm2_vectors.json
  python3 scripts/golden/tokenizer_vectors.py \
      --model .models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf --out tests/data/tokenizer/qwen2_vectors.json
"""
import argparse
import ctypes
import json
import os
import sys

import jinja2
import jinja2.sandbox
from gguf import GGUFReader

import llama_cpp
from llama_cpp import Llama

LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim "
    "+ '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")

LONG_PARAGRAPH = (
    "Tokenizers split text into pieces a model can read. Byte-level BPE starts from the 256 "
    "byte values, so it never meets an unknown character: 'naïve café', “quotes”, 東京タワー, "
    "Здравствуйте, مرحبا بالعالم, नमस्ते दुनिया, 🎉🚀 and code such as `for (int i = 0; i < n; ++i) "
    "{ sum += a[i] * b[i]; }` all become sequences of merges learned from data. Numbers like "
    "3.14159, 2,718,281 and 0x7FFF_FFFF are split digit by digit by some pre-tokenizers and in "
    "groups of three by others.\n\n\tIndented lines, trailing spaces   \nand CRLF\r\nendings matter too. ")


def test_strings():
    """(name, bytes). At least 60 entries covering the cases the brief lists."""
    s = [
        ("empty", ""),
        ("space", " "),
        ("two_spaces", "  "),
        ("many_spaces", "          "),
        ("tab", "\t"),
        ("tabs_mixed", " \t \t\tx"),
        ("newline", "\n"),
        ("newlines", "\n\n\n"),
        ("crlf", "line one\r\nline two\r\n"),
        ("mixed_ws", "a \n\t b  \n\n  c   "),
        ("trailing_spaces", "hello world   "),
        ("leading_spaces", "   hello"),
        ("ws_before_word", "hello      world"),
        ("hello", "Hello world"),
        ("sentence", "The quick brown fox jumps over the lazy dog."),
        ("digits_short", "1 12 123 1234"),
        ("digits_long", "31415926535897932384626433832795028841971"),
        ("number_formatted", "1,234.56 and -7.5e-3 and 1_000_000"),
        ("digits_letters", "abc123def 4x4 v2.0.1"),
        ("punct_run", "!!!??? ... ,,, ;;; :::"),
        ("punct_mixed", "Wait... what?! (really) [yes] {no} <maybe> \"quoted\" 'single'"),
        ("symbols", "$100 + 50% = #tag @user ^caret ~tilde |pipe| `tick` \\slash/"),
        ("contractions", "I'm sure you're right, he's here, they've gone, we'll see, she'd know, don't."),
        ("contractions_upper", "DON'T YOU'RE I'M WE'LL THEY'VE SHE'D IT'S"),
        ("contractions_mixed", "Don'T it'S we'Ll"),
        ("apostrophe_alone", "' 'x '' rock 'n' roll"),
        ("emoji", "I love 🍕 and 🚀!"),
        ("emoji_zwj", "family: 👨‍👩‍👧‍👦 and 🏳️‍🌈"),
        ("emoji_flags", "🇫🇷🇯🇵🇺🇸 flags"),
        ("emoji_skin", "👍🏽 thumbs"),
        ("cjk_chinese", "你好，世界！这是一个测试。"),
        ("cjk_japanese", "東京タワーは日本の電波塔です。"),
        ("cjk_korean", "안녕하세요 세계"),
        ("arabic", "مرحبا بالعالم"),
        ("hebrew", "שלום עולם"),
        ("hindi", "नमस्ते दुनिया"),
        ("thai", "สวัสดีชาวโลก"),
        ("cyrillic", "Привет, мир! Ёжик"),
        ("greek", "Γειά σου Κόσμε"),
        ("combining_marks", "e\u0301 a\u0300\u0308 n\u0303"),
        ("accented_nfc", "café naïve résumé Åström"),
        ("accented_nfd", "cafe\u0301 nai\u0308ve re\u0301sume\u0301"),
        ("replacement_char", "bad \ufffd char"),
        ("bom_zwsp", "\ufeffstart\u200bzero\u200dwidth"),
        ("nbsp_and_spaces", "a\u00a0b\u2003c\u3000d\u202fe"),
        ("line_separators", "a\u2028b\u2029c\u0085d"),
        ("info_separators", "a\x1cb\x1dc\x1ed\x1f"),
        ("control_chars", "a\x00b\x01c\x07d\x1be\x7f"),
        ("math_symbols", "∑ x² ≤ ∞ → √2 ≈ 1.414"),
        ("fullwidth", "ＡＢＣ１２３！"),
        ("roman_numerals", "Ⅻ ⅷ ½ ¾ ²³"),
        ("very_long_word", "a" * 300),
        ("long_word_mixed", "Supercalifragilisticexpialidocious" * 8),
        ("url", "https://example.com/path?query=1&x=y#frag"),
        ("email", "someone@example.org"),
        ("python", "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n"),
        ("cpp", "int main() {\n  for (int i = 0; i < 10; ++i) {\n    std::cout << i << '\\n';\n  }\n}\n"),
        ("json", '{"key": [1, 2, {"nested": null}], "flag": true}'),
        ("html", "<div class=\"x\"><p>Hi &amp; bye</p></div>"),
        ("markdown", "# Title\n\n- item *one*\n- item **two**\n\n```bash\nls -la\n```"),
        ("special_chatml", "<|im_start|>user\nhi<|im_end|>"),
        ("special_chatml_full", "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"),
        ("special_adjacent", "<|im_end|><|im_end|>x<|im_start|>"),
        ("special_partial", "<|im_start user <|im_end| <|endoftext|>"),
        ("special_embedded", "before<|endoftext|>after"),
        ("special_with_spaces", "  <|im_start|>  text  <|im_end|>  "),
        ("tool_call_tags", "<tool_call>\n{\"name\": \"f\"}\n</tool_call>"),
        ("repo_tokens", "<reponame>zinfer<file_sep>main.cpp<filename>x"),
        ("mixed_everything", "Año 2024: 東京 🗼 costs ¥1,500 — \"great\"!\n\tOK?"),
        ("long_paragraph", LONG_PARAGRAPH),
    ]
    out = [(name, text.encode("utf-8")) for name, text in s]
    # Invalid UTF-8: llama.cpp turns every byte that does not start a complete sequence into
    # U+FFFD before pre-tokenizing.
    out += [
        ("invalid_lone_continuation", b"ab\x80cd"),
        ("invalid_ff", b"x\xffy"),
        ("invalid_truncated_3", b"euro \xe2\x82 end"),
        ("invalid_truncated_at_end", b"emoji \xf0\x9f\x98"),
        ("invalid_overlong", b"slash \xc0\xaf here"),
    ]
    return out


def fnv1a64(chunks):
    h = 0xCBF29CE484222325
    for c in chunks:
        for b in c:
            h ^= b
            h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class Reference:
    def __init__(self, path):
        self.llm = Llama(model_path=path, vocab_only=True, verbose=False)
        self.vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.buf = ctypes.create_string_buffer(4096)

    def piece(self, token, special):
        n = llama_cpp.llama_token_to_piece(self.vocab, token, self.buf, len(self.buf), 0, special)
        assert 0 <= n <= len(self.buf), n
        return self.buf.raw[:n]

    def tokenize(self, data, add_special, parse_special):
        return self.llm.tokenize(data, add_bos=add_special, special=parse_special)

    def detokenize(self, ids, special):
        return b"".join(self.piece(t, special) for t in ids)


def write_fixture(out, path):
    """The fixture as indented ASCII JSON (the tokenizer tests read it with nlohmann::json)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=True, indent=1)
        f.write("\n")


def string_vector(ref, name, data):
    """llama.cpp's ids for one test string (plain, parse_special, add_special) and the
    concatenated pieces of the first two."""
    ids_plain = ref.tokenize(data, False, False)
    ids_special = ref.tokenize(data, False, True)
    return {
        "name": name,
        "bytes_hex": data.hex(),
        "text": data.decode("utf-8", errors="replace"),
        "ids": ids_plain,
        "ids_parse_special": ids_special,
        "ids_add_special": ref.tokenize(data, True, True),
        "decoded_hex": ref.detokenize(ids_plain, False).hex(),
        "decoded_parse_special_hex": ref.detokenize(ids_special, True).hex(),
    }


def vocab_fixture(ref, generator, model_path, vectors, pre=None):
    """The fixture of one vocabulary: BOS/EOS, the add flags, the EOG set, a hash over every
    token's piece (rendered with and without special), and the vectors."""
    out = {"generator": generator, "llama_cpp_python": llama_cpp.__version__,
           "model_file": os.path.basename(model_path)}
    if pre is not None:
        out["pre"] = pre
    out.update({
        "n_vocab": ref.n_vocab,
        "bos": llama_cpp.llama_vocab_bos(ref.vocab),
        "eos": llama_cpp.llama_vocab_eos(ref.vocab),
        "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(ref.vocab)),
        "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(ref.vocab)),
        "eog": [t for t in range(ref.n_vocab) if llama_cpp.llama_vocab_is_eog(ref.vocab, t)],
        "pieces_fnv1a64_special": "%016x" % fnv1a64(ref.piece(t, True) + b"\x00" for t in range(ref.n_vocab)),
        "pieces_fnv1a64_plain": "%016x" % fnv1a64(ref.piece(t, False) + b"\x00" for t in range(ref.n_vocab)),
        "vectors": vectors,
    })
    return out


def render_chat(template_src, messages, add_generation_prompt, bos, eos):
    """Renders a chat template the way Hugging Face does (sandboxed, trim/lstrip blocks)."""
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)

    env.globals["raise_exception"] = raise_exception
    env.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False, **kw)
    return env.from_string(template_src).render(messages=messages, add_generation_prompt=add_generation_prompt,
                                                bos_token=bos, eos_token=eos)


# Conversations every chat template is rendered with; each script adds its families' edge cases.
COMMON_CONVERSATIONS = [
    ("single_user", [{"role": "user", "content": "What is the capital of France?"}]),
    ("system_multi_turn", [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Name a prime number."},
        {"role": "assistant", "content": "7"},
        {"role": "user", "content": "Another one, please.\nThanks!"},
    ]),
    ("no_system_multi_turn", [
        {"role": "user", "content": "  Hi there!  "},
        {"role": "assistant", "content": "Hello! How can I help?\n"},
        {"role": "user", "content": "Tell me a joke about 🐍 Python."},
    ]),
]

CONVERSATIONS = COMMON_CONVERSATIONS + [
    ("tool_turns", [
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": "Let me check."},
        {"role": "tool", "content": "{\"temp\": 21}"},
        {"role": "tool", "content": "{\"sky\": \"clear\"}"},
        {"role": "user", "content": "Thanks"},
    ]),
    # Llama 3's template trims content with Python's str.strip(): \x1c..\x1f, U+0085 and
    # U+3000 are stripped too.
    ("whitespace_edges", [
        {"role": "system", "content": " \t\n\x1c sys \u3000\x85"},
        {"role": "user", "content": "\u00a0 question?\n\n"},
    ]),
]


def chat_cases(template, bos, eos, conversations=CONVERSATIONS):
    """Every conversation rendered with and without the generation prompt; a template that
    refuses one (raise_exception, an undefined messages[0]) records the error instead."""
    cases = []
    for name, msgs in conversations:
        for add_gen in (True, False):
            case = {"name": name, "add_generation_prompt": add_gen, "messages": msgs}
            try:
                case["rendered"] = render_chat(template, msgs, add_gen, bos, eos)
            except jinja2.exceptions.TemplateError as e:
                case["error"] = str(e)
            cases.append(case)
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    reader = GGUFReader(args.model)
    fields = reader.fields
    template = fields["tokenizer.chat_template"].contents() if "tokenizer.chat_template" in fields else ""
    ref = Reference(args.model)

    tokens = fields["tokenizer.ggml.tokens"].contents()
    vectors = [string_vector(ref, name, data) for name, data in test_strings()]
    out = vocab_fixture(ref, "scripts/golden/tokenizer_vectors.py", args.model, vectors,
                        pre=fields["tokenizer.ggml.pre"].contents())
    bos, eos = out["bos"], out["eos"]
    out["chat"] = chat_cases(template, tokens[bos] if bos >= 0 else "", tokens[eos] if eos >= 0 else "")
    out["llama3_template"] = LLAMA3_TEMPLATE
    out["llama3_chat"] = chat_cases(LLAMA3_TEMPLATE, "<|begin_of_text|>", "<|eot_id|>")
    write_fixture(out, args.out)
    print(f"wrote {len(vectors)} vectors, {len(out['chat'])} chat renders to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
