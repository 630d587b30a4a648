# Sourced by the GPU benchmark scripts (bench_peer.sh, bench_variants.sh): the benchmark GGUF
# files by name and their creation with `zinfer mkmodel` (synthetic weights of real shapes:
# values do not change speed). Needs WORK (where the files live), ZMODELS (the real models'
# folder), ZINFER (the binary) and MODELS (the names to make).
model_file() {
  case "$1" in
    qwen05) echo "$WORK/qwen2.5-0.5b-q4k-mix.gguf" ;;
    qwen7b) echo "$WORK/qwen2.5-7b-q4k-mix.gguf" ;;
    smollm2) echo "$ZMODELS/SmolLM2-135M-Instruct.Q4_1.gguf" ;;
    gptoss20b) echo "$WORK/gpt-oss-20b-mxfp4.gguf" ;;
  esac
}

make_models() {
  for m in $MODELS; do
    local f
    f=$(model_file "$m")
    [ -f "$f" ] && continue
    case "$m" in
      qwen05) "$ZINFER" mkmodel --preset qwen2.5-0.5b --type Q4_K --mix --out "$f" > /dev/null ;;
      qwen7b) "$ZINFER" mkmodel --preset qwen2.5-7b --type Q4_K --mix --out "$f" > /dev/null ;;
      gptoss20b) "$ZINFER" mkmodel --preset gpt-oss-20b --type Q8_0 --mix --out "$f" > /dev/null ;;
      smollm2) echo "no $f (scripts/fetch_models.sh)" >&2 ;;
    esac
  done
}

