// DeviceReport: where a model runs and what it holds there — filled by the backend, read by
// health replies, zinfer bench and the start-up log.
#pragma once

#include <cstdint>
#include <string>

namespace zinfer::model {

struct DeviceReport {
  std::string name = "cpu";  // "cpu", "cuda:0 (NVIDIA H100 80GB HBM3, sm_90, 132 SMs, 79.2 GiB)"
  std::uint64_t device_bytes = 0;   // device memory held (weights, KV pool, scratch); 0 on CPU
  std::uint64_t weight_bytes = 0;   // weights in device memory
  std::uint64_t kv_bytes = 0;       // KV pool in device memory
  bool vram_resident = false;       // every weight and KV buffer verified as plain VRAM
  std::uint64_t scratch_bytes = 0;  // working memory: activations and per-step inputs
  std::uint64_t graphs = 0;         // CUDA graphs held (one per decode-step shape)
  std::uint64_t graph_replays = 0;  // decode steps run by replaying a graph
  std::uint64_t padded_rows = 0;    // dummy rows run by padded decode steps (Llm, --pad-decode)
};

}  // namespace zinfer::model
