"""Greedy runs of llama.cpp (llama-cpp-python) recorded as golden fixtures: what
model_goldens.py and gemma3_goldens.py share. Imported by them, not run on its own."""
import hashlib

import numpy as np


def file_sha256(path):
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def top_pairs(row, k):
    """The k largest logits of a row as ([ids], [logits rounded to 5 places]), ties by id."""
    idx = np.argsort(-row, kind="stable")[:k]
    return [int(i) for i in idx], [round(float(row[i]), 5) for i in idx]


def greedy_run(llm, ids, n_generate, top_k, prompt_top_k):
    """Evaluates the prompt ids, then n_generate greedy steps by hand (argmax of the last
    position's logits, first index on ties; no stop at EOS). Returns (prompt_top, generated,
    steps, margins): the top prompt_top_k pairs of every prompt position, the generated ids,
    per step its top_k pairs and top-1/top-2 margin (rounded), and the unrounded margins."""
    llm.reset()
    llm.eval(ids)
    prompt_top = [top_pairs(np.asarray(llm.scores[p], dtype=np.float32), prompt_top_k)
                  for p in range(len(ids))]
    generated, steps, margins = [], [], []
    for step in range(n_generate):
        row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        tid, tl = top_pairs(row, top_k)
        assert int(np.argmax(row)) == tid[0]  # first maximum, like our greedy sampler
        srt = np.sort(row)
        margin = float(srt[-1] - srt[-2])
        steps.append({"top_ids": tid, "top_logits": tl, "margin": round(margin, 5)})
        margins.append(margin)
        generated.append(tid[0])
        if step + 1 < n_generate:
            llm.eval([tid[0]])
    return prompt_top, generated, steps, margins


def case_record(llm, name, kind, text, parse_special, add_bos, ids, run, eog_ids, messages=None):
    """One fixture case from a greedy_run result, as the C++ golden tests read it."""
    prompt_top, generated, steps, _ = run
    eog_steps = [i for i, t in enumerate(generated) if t in eog_ids]
    case = {"name": name, "kind": kind, "text": text, "parse_special": parse_special,
            "add_special": add_bos, "prompt_ids": ids,
            "prompt_top_ids": [p[0] for p in prompt_top],
            "prompt_top_logits": [p[1] for p in prompt_top],
            "generated_ids": generated, "eog_seen": bool(eog_steps), "eog_steps": eog_steps,
            "generated_text": llm.detokenize(generated, special=True).decode("utf-8", "replace"),
            "steps": steps}
    if messages is not None:
        case["messages"] = messages
    return case
