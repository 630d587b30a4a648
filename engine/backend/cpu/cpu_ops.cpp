// CpuOps (see cpu_ops.h). Numerics follow ggml's CPU backend where it matters for token
// identity with llama.cpp: RMSNorm sums squares in double, RoPE angles are built by repeated
// multiplication in float, softmax sums in double.
#include "engine/backend/cpu/cpu_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "engine/backend/cpu/f16_tile_attention.h"
#include "engine/quant/f16_round.h"
#include "engine/quant/q16.h"
#include "engine/quant/quant_ops.h"

namespace zinfer::cpu {

using model::Tensor;
using model::Weight;

namespace {

constexpr std::size_t kChunkFloats = std::size_t{1} << 22;  // 16 MiB scratch chunks

inline float* row(Tensor t, std::int64_t r) { return t.data + r * t.stride; }

// The matmuls whose activations the GPU rounds to the Q16 grid under --q16-act, so this
// emulation of the mode rounds them too: the integer-dot formats (quant::has_q8_dot), and
// MXFP4 — the experts' tensor-core kernels (kernels/moe_mma.cuh) take Q16 activations; no
// model stores a dense MXFP4 matrix.
constexpr bool q16_rounds(quant::GgmlType t) {
  return quant::has_q8_dot(t) || t == quant::GgmlType::kMXFP4;
}

}  // namespace

float silu(float x) { return x / (1.0f + std::exp(-x)); }

float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + 0.044715f * x * x)));
}

CpuOps::CpuOps(const CpuOpsConfig& config)
    : Ops(model::KvGeometry{config.n_layer, config.n_embd_kv, config.block_size}),
      cfg_(config),
      pool_(config.n_threads) {
  const std::size_t kv_floats = static_cast<std::size_t>(cfg_.n_layer) * cfg_.n_blocks *
                                cfg_.block_size * static_cast<std::size_t>(cfg_.n_embd_kv);
  k_cache_.assign(kv_floats, 0.0f);
  v_cache_.assign(kv_floats, 0.0f);
}

void CpuOps::reset_scratch() {
  chunk_index_ = 0;
  chunk_used_ = 0;
}

Tensor CpuOps::do_alloc(std::int64_t rows, std::int64_t cols) {
  // Round rows up to 16 floats so rows stay aligned relative to the chunk start.
  const std::int64_t stride = (cols + 15) / 16 * 16;
  const std::size_t need = static_cast<std::size_t>(std::max<std::int64_t>(rows, 1) * stride);
  while (true) {
    if (chunk_index_ < chunks_.size()) {
      if (chunk_used_ + need <= chunk_sizes_[chunk_index_]) {
        float* p = chunks_[chunk_index_].get() + chunk_used_;
        chunk_used_ += need;
        return Tensor{p, rows, cols, stride};
      }
      ++chunk_index_;
      chunk_used_ = 0;
      continue;
    }
    const std::size_t size = std::max(need, kChunkFloats);
    chunks_.emplace_back(new float[size]);
    chunk_sizes_.push_back(size);
  }
}

Status CpuOps::do_embed(Tensor out, const Weight& table, std::span<const std::int32_t> tokens) {
  const std::size_t rsize = quant::row_size(table.type, table.ne0);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::int32_t id = tokens[i];
    const auto* src =
        static_cast<const std::uint8_t*>(table.data) + static_cast<std::size_t>(id) * rsize;
    quant::dequantize_row(table.type, src, row(out, static_cast<std::int64_t>(i)), table.ne0);
  }
  return ok_status();
}

Status CpuOps::do_rms_norm(Tensor out, Tensor in, const Weight& w, float eps) {
  const auto* wd = static_cast<const float*>(w.data);
  for (std::int64_t r = 0; r < in.rows; ++r) {
    const float* x = row(in, r);
    float* y = row(out, r);
    double sum = 0.0;
    for (std::int64_t i = 0; i < in.cols; ++i) sum += static_cast<double>(x[i] * x[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(in.cols));
    const float s = 1.0f / std::sqrt(mean + eps);
    for (std::int64_t i = 0; i < in.cols; ++i) y[i] = x[i] * s;
    if (wd != nullptr) {
      for (std::int64_t i = 0; i < in.cols; ++i) y[i] *= wd[i];
    }
  }
  return ok_status();
}

Status CpuOps::do_layer_norm(Tensor out, Tensor in, const Weight& w, const Weight& b, float eps) {
  const auto* wd = static_cast<const float*>(w.data);
  const auto* bd = static_cast<const float*>(b.data);
  for (std::int64_t r = 0; r < in.rows; ++r) {
    const float* x = row(in, r);
    float* y = row(out, r);
    double sum = 0.0;
    for (std::int64_t i = 0; i < in.cols; ++i) sum += x[i];
    const float mean = static_cast<float>(sum / static_cast<double>(in.cols));
    double var = 0.0;
    for (std::int64_t i = 0; i < in.cols; ++i) {
      const float c = x[i] - mean;
      var += static_cast<double>(c * c);
    }
    const float s = 1.0f / std::sqrt(static_cast<float>(var / static_cast<double>(in.cols)) + eps);
    for (std::int64_t i = 0; i < in.cols; ++i) {
      float v = (x[i] - mean) * s;
      if (wd != nullptr) v *= wd[i];
      if (bd != nullptr) v += bd[i];
      y[i] = v;
    }
  }
  return ok_status();
}

bool CpuOps::kind_matters(const Weight& w) const {
  return cfg_.exact_matmul && cfg_.fp16_prompts && q16_rounds(w.type);
}

Status CpuOps::do_matmul(Tensor out, Tensor in, const Weight& w) {
  const std::size_t w_row = quant::row_size(w.type, w.ne0);
  const auto* wd = static_cast<const std::uint8_t*>(w.data);
  const std::int64_t n_rows = in.rows;
  // Per-token numerics: this call's rows are of one kind (the front splits by kind).
  const bool f16_rows = cfg_.fp16_matmul || (cfg_.fp16_prompts && !rows_generated());
  if (cfg_.exact_matmul && cfg_.q16_act && !f16_rows && q16_rounds(w.type)) {
    // --q16-act: the activations on the Q16 grid, then the float dot products below.
    q16_buf_.resize(static_cast<std::size_t>(n_rows * in.cols));
    pool_.parallel_for(n_rows, [&](std::int64_t r0, std::int64_t r1, int) {
      for (std::int64_t r = r0; r < r1; ++r)
        quant::q16_round_row(row(in, r), q16_buf_.data() + r * in.cols, in.cols);
    });
    in = Tensor{q16_buf_.data(), n_rows, in.cols, in.cols};
  }
  const bool fp16 = cfg_.exact_matmul && f16_rows && q16_rounds(w.type);
  if (fp16) {
    // fp16_matmul: each activation row in fp16 (a power-of-two scale keeps it in range).
    q16_buf_.resize(static_cast<std::size_t>(n_rows * in.cols));
    pool_.parallel_for(n_rows, [&](std::int64_t r0, std::int64_t r1, int) {
      for (std::int64_t r = r0; r < r1; ++r) {
        const float* x = row(in, r);
        quant::f16_round_row(x, q16_buf_.data() + r * in.cols, in.cols,
                             quant::f16_row_scale(x, in.cols));
      }
    });
    in = Tensor{q16_buf_.data(), n_rows, in.cols, in.cols};
  }
  if (cfg_.exact_matmul) {
    // Float dot products against the dequantized weight row. With several activation rows
    // the weight row is dequantized once; vec_dot_f32 accumulates in the same lane order
    // either way, so the result does not depend on the batch.
    pool_.parallel_for(w.ne1, [&](std::int64_t j0, std::int64_t j1, int) {
      if (n_rows == 1 && !fp16) {  // the rows' dots bit for bit, several at a time
        quant::vec_dot_f32_rows(w.type, w.ne0, wd + static_cast<std::size_t>(j0) * w_row, w_row,
                                j1 - j0, row(in, 0), row(out, 0) + j0);
        return;
      }
      std::vector<float> wf(static_cast<std::size_t>(w.ne0));
      for (std::int64_t j = j0; j < j1; ++j) {
        const void* wr = wd + static_cast<std::size_t>(j) * w_row;
        quant::dequantize_row(w.type, wr, wf.data(), w.ne0);
        if (fp16) quant::f16_round_row(wf.data(), wf.data(), w.ne0);
        quant::vec_dot_f32_xrows(w.ne0, wf.data(), row(in, 0), static_cast<std::size_t>(in.stride),
                                 n_rows, row(out, 0) + j, static_cast<std::size_t>(out.stride));
      }
    });
    return ok_status();
  }
  // llama.cpp-style: quantize each activation row once to the weight's vec_dot type.
  const quant::GgmlType vdt = quant::traits(w.type).vec_dot_type;
  const std::size_t a_row = quant::act_row_size(vdt, w.ne0);
  act_buf_.resize(a_row * static_cast<std::size_t>(n_rows));
  pool_.parallel_for(n_rows, [&](std::int64_t r0, std::int64_t r1, int) {
    for (std::int64_t r = r0; r < r1; ++r) {
      quant::quantize_act_row(vdt, row(in, r),
                              act_buf_.data() + static_cast<std::size_t>(r) * a_row, w.ne0);
    }
  });
  const std::uint8_t* act = act_buf_.data();
  pool_.parallel_for(w.ne1, [&](std::int64_t j0, std::int64_t j1, int) {
    for (std::int64_t j = j0; j < j1; ++j) {
      const void* wr = wd + static_cast<std::size_t>(j) * w_row;
      for (std::int64_t r = 0; r < n_rows; ++r) {
        row(out, r)[j] =
            quant::vec_dot(w.type, w.ne0, wr, act + static_cast<std::size_t>(r) * a_row);
      }
    }
  });
  return ok_status();
}

Status CpuOps::do_add_bias(Tensor x, const Weight& b) {
  const auto* bd = static_cast<const float*>(b.data);
  for (std::int64_t r = 0; r < x.rows; ++r) {
    float* y = row(x, r);
    for (std::int64_t i = 0; i < x.cols; ++i) y[i] += bd[i];
  }
  return ok_status();
}

Status CpuOps::do_add(Tensor out, Tensor a, Tensor b) {
  for (std::int64_t r = 0; r < a.rows; ++r) {
    const float* x = row(a, r);
    const float* y = row(b, r);
    float* z = row(out, r);
    for (std::int64_t i = 0; i < a.cols; ++i) z[i] = x[i] + y[i];
  }
  return ok_status();
}

Status CpuOps::do_scale(Tensor x, float s) {
  for (std::int64_t r = 0; r < x.rows; ++r) {
    float* y = row(x, r);
    for (std::int64_t i = 0; i < x.cols; ++i) y[i] *= s;
  }
  return ok_status();
}

Status CpuOps::do_softcap(Tensor x, float cap) {
  const float inv = 1.0f / cap;
  for (std::int64_t r = 0; r < x.rows; ++r) {
    float* y = row(x, r);
    for (std::int64_t i = 0; i < x.cols; ++i) y[i] = cap * std::tanh(y[i] * inv);
  }
  return ok_status();
}

Status CpuOps::do_rope(Tensor x, const model::RopeParams& p, const model::Batch& batch) {
  const float theta_scale = std::pow(p.base, -2.0f / static_cast<float>(p.n_rot));
  std::vector<float> cos_c(static_cast<std::size_t>(p.n_rot / 2)), sin_c(cos_c.size());
  // YaRN (ggml's rope_yarn): per-pair mix of interpolated and extrapolated angles, and a
  // magnitude correction of cos and sin.
  const bool yarn = p.ext_factor != 0.0f;
  const float mscale =
      yarn ? p.attn_factor * (1.0f + 0.1f * std::log(1.0f / p.freq_scale)) : p.attn_factor;
  const float ramp_width = std::max(0.001f, p.yarn_high - p.yarn_low);
  for (std::int64_t r = 0; r < x.rows; ++r) {
    // Angles by repeated multiplication in float, as ggml builds its rope cache.
    float theta = static_cast<float>(batch.positions[static_cast<std::size_t>(r)]);
    for (std::size_t i = 0; i < cos_c.size(); ++i) {
      float t = p.freq_scale * theta;
      if (yarn) {
        const float y = (static_cast<float>(i) - p.yarn_low) / ramp_width;
        const float mix = (1.0f - std::min(1.0f, std::max(0.0f, y))) * p.ext_factor;
        t = t * (1.0f - mix) + theta * mix;
      }
      cos_c[i] = std::cos(t) * mscale;
      sin_c[i] = std::sin(t) * mscale;
      theta *= theta_scale;
    }
    for (std::int32_t h = 0; h < p.n_head; ++h) {
      float* v = row(x, r) + static_cast<std::int64_t>(h) * p.head_dim;
      if (p.type == model::RopeType::kNorm) {
        for (std::int32_t i = 0; i < p.n_rot / 2; ++i) {
          const float x0 = v[2 * i], x1 = v[2 * i + 1];
          v[2 * i] = x0 * cos_c[i] - x1 * sin_c[i];
          v[2 * i + 1] = x0 * sin_c[i] + x1 * cos_c[i];
        }
      } else {
        const std::int32_t half = p.n_rot / 2;
        for (std::int32_t i = 0; i < half; ++i) {
          const float x0 = v[i], x1 = v[i + half];
          v[i] = x0 * cos_c[i] - x1 * sin_c[i];
          v[i + half] = x0 * sin_c[i] + x1 * cos_c[i];
        }
      }
    }
  }
  return ok_status();
}

float* CpuOps::kv_row(std::vector<float>& cache, std::int32_t layer, std::int32_t slot) {
  const std::size_t per_layer =
      static_cast<std::size_t>(cfg_.n_blocks) * cfg_.block_size * cfg_.n_embd_kv;
  return cache.data() + per_layer * layer + static_cast<std::size_t>(slot) * cfg_.n_embd_kv;
}

Status CpuOps::do_attention(Tensor out, Tensor q, Tensor k, Tensor v, const model::AttnParams& p,
                            const model::Batch& batch) {
  const std::int64_t dkv = static_cast<std::int64_t>(p.n_head_kv) * p.head_dim;
  const std::int32_t bs = cfg_.block_size;
  // 1. Store the new keys and values into their sequences' cache slots.
  for (const auto& s : batch.seqs) {
    for (std::int32_t t = 0; t < s.n_tokens; ++t) {
      const std::int32_t pos = s.n_past + t;
      const std::size_t bi = static_cast<std::size_t>(pos / bs);
      const std::int32_t slot = s.block_table[bi] * bs + pos % bs;
      std::memcpy(kv_row(k_cache_, p.layer, slot), row(k, s.row_start + t), sizeof(float) * dkv);
      std::memcpy(kv_row(v_cache_, p.layer, slot), row(v, s.row_start + t), sizeof(float) * dkv);
    }
  }
  // 2. Causal attention over each sequence's cache; one work item per (token, head).
  struct Item {
    const model::SeqSpan* seq;
    std::int32_t t;
  };
  std::vector<Item> items;
  for (const auto& s : batch.seqs) {
    for (std::int32_t t = 0; t < s.n_tokens; ++t) items.push_back({&s, t});
  }
  const std::int32_t group = p.n_head / p.n_head_kv;
  const auto* sinks = static_cast<const float*>(p.sinks.data);  // [n_head] or null
  const std::int64_t n_work = static_cast<std::int64_t>(items.size()) * p.n_head;
  pool_.parallel_for(n_work, [&](std::int64_t w0, std::int64_t w1, int) {
    std::vector<float> scores;
    std::vector<float> acc(static_cast<std::size_t>(p.head_dim));
    std::vector<const float*> k_rows, v_rows;
    for (std::int64_t w = w0; w < w1; ++w) {
      const Item& it = items[static_cast<std::size_t>(w / p.n_head)];
      const std::int32_t h = static_cast<std::int32_t>(w % p.n_head);
      const std::int32_t kvh = h / group;
      const std::int32_t pos = it.seq->n_past + it.t;
      const std::int32_t first = p.window > 0 ? std::max(0, pos - p.window + 1) : 0;
      const float* qv =
          row(q, it.seq->row_start + it.t) + static_cast<std::int64_t>(h) * p.head_dim;
      float* o = row(out, it.seq->row_start + it.t) + static_cast<std::int64_t>(h) * p.head_dim;
      if (cfg_.fp16_matmul || (cfg_.fp16_prompts && !it.seq->generated)) {
        // fp16 operands: the GPU's prompt attention (f16_tile_attention.h).
        k_rows.clear();
        v_rows.clear();
        for (std::int32_t j = first; j <= pos; ++j) {
          const std::int32_t slot =
              it.seq->block_table[static_cast<std::size_t>(j / bs)] * bs + j % bs;
          k_rows.push_back(kv_row(k_cache_, p.layer, slot) +
                           static_cast<std::int64_t>(kvh) * p.head_dim);
          v_rows.push_back(kv_row(v_cache_, p.layer, slot) +
                           static_cast<std::int64_t>(kvh) * p.head_dim);
        }
        f16_tile_attention(qv, k_rows, v_rows, first, pos, p,
                           sinks != nullptr ? sinks[h] : -INFINITY, o);
        continue;
      }
      scores.resize(static_cast<std::size_t>(pos) - static_cast<std::size_t>(first) + 1);
      float mx = -INFINITY;
      for (std::int32_t j = first; j <= pos; ++j) {
        const std::int32_t slot =
            it.seq->block_table[static_cast<std::size_t>(j / bs)] * bs + j % bs;
        const float* kr =
            kv_row(k_cache_, p.layer, slot) + static_cast<std::int64_t>(kvh) * p.head_dim;
        float dot = 0.0f;
        for (std::int32_t d = 0; d < p.head_dim; ++d) dot += qv[d] * kr[d];
        float sc = dot * p.scale;
        if (p.softcap > 0.0f) sc = p.softcap * std::tanh(sc / p.softcap);
        scores[static_cast<std::size_t>(j - first)] = sc;
        mx = std::max(mx, sc);
      }
      // A sink joins the softmax as one more logit of this head without a value row.
      const float sink = sinks != nullptr ? sinks[h] : -INFINITY;
      mx = std::max(mx, sink);
      double sum = sinks != nullptr ? static_cast<double>(std::exp(sink - mx)) : 0.0;
      for (auto& sc : scores) {
        sc = std::exp(sc - mx);
        sum += sc;
      }
      const float inv = static_cast<float>(1.0 / sum);
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (std::int32_t j = first; j <= pos; ++j) {
        const std::int32_t slot =
            it.seq->block_table[static_cast<std::size_t>(j / bs)] * bs + j % bs;
        const float* vr =
            kv_row(v_cache_, p.layer, slot) + static_cast<std::int64_t>(kvh) * p.head_dim;
        const float pj = scores[static_cast<std::size_t>(j - first)] * inv;
        for (std::int32_t d = 0; d < p.head_dim; ++d)
          acc[static_cast<std::size_t>(d)] += pj * vr[d];
      }
      std::memcpy(o, acc.data(), sizeof(float) * static_cast<std::size_t>(p.head_dim));
    }
  });
  return ok_status();
}

namespace {

// out = act(gate) * up, elementwise: the gated activations (SwiGLU, GeGLU).
template <float (*Act)(float)>
Status gated_activation(Tensor out, Tensor gate, Tensor up) {
  for (std::int64_t r = 0; r < gate.rows; ++r) {
    const float* g = row(gate, r);
    const float* u = row(up, r);
    float* o = row(out, r);
    for (std::int64_t i = 0; i < gate.cols; ++i) o[i] = Act(g[i]) * u[i];
  }
  return ok_status();
}

}  // namespace

Status CpuOps::do_swiglu(Tensor out, Tensor gate, Tensor up) {
  return gated_activation<silu>(out, gate, up);
}

Status CpuOps::do_geglu(Tensor out, Tensor gate, Tensor up) {
  return gated_activation<gelu_tanh>(out, gate, up);
}

Status CpuOps::do_gelu(Tensor x) {
  for (std::int64_t r = 0; r < x.rows; ++r) {
    float* y = row(x, r);
    for (std::int64_t i = 0; i < x.cols; ++i) y[i] = gelu_tanh(y[i]);
  }
  return ok_status();
}

Status CpuOps::do_gather_rows(Tensor out, Tensor in, std::span<const std::int32_t> rows) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::memcpy(row(out, static_cast<std::int64_t>(i)), row(in, rows[i]), sizeof(float) * in.cols);
  }
  return ok_status();
}

Status CpuOps::do_to_host(Tensor t, float* host) {
  for (std::int64_t r = 0; r < t.rows; ++r)
    std::memcpy(host + r * t.cols, row(t, r), sizeof(float) * t.cols);
  return ok_status();
}

}  // namespace zinfer::cpu
