// `zinfer inspect FILE`: a GGUF file's header, key hyperparameters, tokenizer summary,
// tensor table and per-type totals, as text or (--json) as one JSON object; --metadata
// adds every metadata key. A file the reader rejects prints the typed error and exits 2.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "service/cli/commands.h"
#include "service/cli/exit_codes.h"
#include "service/cli/json_writer.h"

namespace zinfer::cli {
namespace {

using gguf::GgufFile;
using gguf::MetaValue;
using gguf::ValueType;

struct InspectOptions {
  std::string path;
  bool json = false;      // one JSON object on stdout instead of text
  bool metadata = false;  // also list every metadata key
};

// Hyperparameters shown under "<arch>.<suffix>"; `always` rows appear (as "-" / null) even
// when the file lacks them, because a model without them is suspicious.
struct HyperKey {
  const char* suffix;
  bool always;
};
constexpr HyperKey kHyperKeys[] = {
    {"block_count", true},
    {"context_length", true},
    {"embedding_length", true},
    {"feed_forward_length", true},
    {"attention.head_count", true},
    {"attention.head_count_kv", true},
    {"attention.key_length", false},
    {"attention.value_length", false},
    {"rope.dimension_count", false},
    {"rope.freq_base", true},
    {"attention.layer_norm_rms_epsilon", true},
    {"attention.layer_norm_epsilon", false},
    {"attention.sliding_window", false},
    {"expert_count", false},
    {"expert_used_count", false},
    {"vocab_size", true},
};

bool is_unsigned(ValueType t) {
  return t == ValueType::kUInt8 || t == ValueType::kUInt16 || t == ValueType::kUInt32 ||
         t == ValueType::kUInt64;
}

// "string[49152]", or "array[2]" for arrays of arrays.
std::string array_summary(const MetaValue& v) {
  return std::string(gguf::value_type_name(v.elem_type)) + "[" + std::to_string(v.arr.size()) + "]";
}

std::string type_label(const MetaValue& v) {
  if (v.type == ValueType::kArray)
    return "array[" + std::string(gguf::value_type_name(v.elem_type)) + "]";
  return std::string(gguf::value_type_name(v.type));
}

// Shortest text that reads back as the same value; whole numbers without an exponent
// (a rope base reads better as 100000 than as 1e+05).
template <typename F>
std::string shortest(F x) {
  char buf[64];
  const bool whole = std::isfinite(x) && std::abs(x) < F(1e15) && x == std::trunc(x);
  auto res = whole ? std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::fixed)
                   : std::to_chars(buf, buf + sizeof(buf), x);
  return std::string(buf, res.ptr);
}

// Control characters escaped so a chat template stays on one line.
std::string escape_text(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

std::string value_text(const MetaValue& v) {
  if (v.type == ValueType::kArray) return array_summary(v);
  if (v.type == ValueType::kString) return escape_text(v.s);
  if (v.type == ValueType::kBool) return v.u ? "true" : "false";
  if (v.type == ValueType::kFloat32) return shortest(static_cast<float>(v.f));
  if (v.type == ValueType::kFloat64) return shortest(v.f);
  if (is_unsigned(v.type)) return std::to_string(v.u);
  return std::to_string(v.i);
}

void write_value_json(JsonWriter& w, const MetaValue& v) {
  if (v.type == ValueType::kArray) {
    w.value(array_summary(v));
  } else if (v.type == ValueType::kString) {
    w.value(v.s);
  } else if (v.type == ValueType::kBool) {
    w.value(v.u != 0);
  } else if (v.type == ValueType::kFloat32) {
    w.value(static_cast<float>(v.f));
  } else if (v.type == ValueType::kFloat64) {
    w.value(v.f);
  } else if (is_unsigned(v.type)) {
    w.value(v.u);
  } else {
    w.value(v.i);
  }
}

std::string shape_text(const gguf::TensorInfo& t) {
  std::string s = "[";
  for (int d = 0; d < t.n_dims; ++d) s += (d ? ", " : "") + std::to_string(t.ne[d]);
  return s + "]";
}

struct TypeTotal {
  std::uint64_t tensors = 0;
  std::uint64_t elements = 0;
  std::uint64_t bytes = 0;
};

// Everything both output formats show, gathered once.
struct Summary {
  std::string arch;  // empty when general.architecture is missing or not a string
  std::vector<std::pair<std::string, const MetaValue*>> hyper;  // key -> value (null: missing)
  const MetaValue* tok_model = nullptr;
  const MetaValue* tok_pre = nullptr;
  std::optional<std::uint64_t> tok_vocab;  // length of tokenizer.ggml.tokens
  const MetaValue* chat_template = nullptr;
  std::map<std::uint32_t, TypeTotal> totals;  // by ggml type id
  TypeTotal all;
};

Summary summarize(const GgufFile& f) {
  Summary s;
  if (auto arch = f.get_string("general.architecture"); arch.ok()) s.arch = *arch;
  if (!s.arch.empty()) {
    for (const HyperKey& h : kHyperKeys) {
      const std::string key = s.arch + "." + h.suffix;
      const MetaValue* v = f.find(key);
      if (v != nullptr || h.always) s.hyper.emplace_back(key, v);
    }
  }
  s.tok_model = f.find("tokenizer.ggml.model");
  s.tok_pre = f.find("tokenizer.ggml.pre");
  if (const MetaValue* tokens = f.find("tokenizer.ggml.tokens");
      tokens && tokens->type == ValueType::kArray) {
    s.tok_vocab = tokens->arr.size();
  }
  s.chat_template = f.find("tokenizer.chat_template");
  for (const gguf::TensorInfo& t : f.tensors()) {
    for (TypeTotal* total : {&s.totals[static_cast<std::uint32_t>(t.type)], &s.all}) {
      total->tensors += 1;
      total->elements += static_cast<std::uint64_t>(t.n_elements());
      total->bytes += t.nbytes;
    }
  }
  return s;
}

void print_text(const InspectOptions& opt, const GgufFile& f, const Summary& s, std::ostream& out) {
  const auto row = [&](std::string_view label, const std::string& value) {
    out << "  " << std::left << std::setw(14) << label << value << '\n';
  };
  const auto meta_text = [](const MetaValue* v) { return v ? value_text(*v) : std::string("-"); };
  out << "file\n";
  row("path", opt.path);
  row("size", std::to_string(f.file_size()) + " bytes");
  row("gguf version", std::to_string(f.version()));
  row("alignment", std::to_string(f.alignment()));
  row("data offset", std::to_string(f.data_offset()));
  row("architecture", s.arch.empty() ? "-" : s.arch);
  row("name", meta_text(f.find("general.name")));

  if (!s.hyper.empty()) {
    std::size_t width = 0;
    for (const auto& [key, v] : s.hyper) width = std::max(width, key.size());
    out << "\nhyperparameters\n";
    for (const auto& [key, v] : s.hyper) {
      out << "  " << std::left << std::setw(static_cast<int>(width + 2)) << key << meta_text(v)
          << '\n';
    }
  }

  out << "\ntokenizer\n";
  row("model", meta_text(s.tok_model));
  row("pre", meta_text(s.tok_pre));
  row("vocab size", s.tok_vocab ? std::to_string(*s.tok_vocab) : "-");
  row("chat template", s.chat_template && s.chat_template->type == ValueType::kString
                           ? "present (" + std::to_string(s.chat_template->s.size()) + " bytes)"
                           : "absent");

  std::size_t name_w = 4;
  for (const auto& t : f.tensors()) name_w = std::max(name_w, t.name.size());
  out << "\ntensors (" << f.tensors().size() << ")\n";
  out << "  " << std::left << std::setw(static_cast<int>(name_w + 2)) << "name" << std::setw(7)
      << "type" << std::setw(22) << "shape (ne)" << std::right << std::setw(12) << "bytes" << '\n';
  for (const auto& t : f.tensors()) {
    out << "  " << std::left << std::setw(static_cast<int>(name_w + 2)) << t.name << std::setw(7)
        << quant::type_name(t.type) << std::setw(22) << shape_text(t) << std::right << std::setw(12)
        << t.nbytes << '\n';
  }

  out << "\ntotals by type\n";
  out << "  " << std::left << std::setw(7) << "type" << std::right << std::setw(9) << "tensors"
      << std::setw(15) << "elements" << std::setw(15) << "bytes" << '\n';
  const auto total_row = [&](std::string_view label, const TypeTotal& t) {
    out << "  " << std::left << std::setw(7) << label << std::right << std::setw(9) << t.tensors
        << std::setw(15) << t.elements << std::setw(15) << t.bytes << '\n';
  };
  for (const auto& [type, total] : s.totals)
    total_row(quant::type_name(static_cast<quant::GgmlType>(type)), total);
  total_row("total", s.all);

  if (opt.metadata) {
    std::size_t key_w = 0;
    for (const auto& [key, v] : f.metadata()) key_w = std::max(key_w, key.size());
    out << "\nmetadata (" << f.metadata().size() << " keys)\n";
    for (const auto& [key, v] : f.metadata()) {
      out << "  " << std::left << std::setw(static_cast<int>(key_w + 2)) << key << std::setw(16)
          << type_label(v) << value_text(v) << '\n';
    }
  }
}

void print_json(const InspectOptions& opt, const GgufFile& f, const Summary& s, std::ostream& out) {
  JsonWriter w(out);
  const auto meta_or_null = [&](const MetaValue* v) {
    if (v) {
      write_value_json(w, *v);
    } else {
      w.null();
    }
  };
  w.begin_object();
  w.key("file").value(opt.path);
  w.key("file_size").value(f.file_size());
  w.key("version").value(static_cast<std::uint64_t>(f.version()));
  w.key("alignment").value(f.alignment());
  w.key("data_offset").value(f.data_offset());
  w.key("architecture");
  if (s.arch.empty()) {
    w.null();
  } else {
    w.value(s.arch);
  }
  w.key("hyperparameters").begin_object();
  for (const auto& [key, v] : s.hyper) {
    w.key(key);
    meta_or_null(v);
  }
  w.end_object();
  w.key("tokenizer").begin_object();
  w.key("model");
  meta_or_null(s.tok_model);
  w.key("pre");
  meta_or_null(s.tok_pre);
  w.key("vocab_size");
  if (s.tok_vocab) {
    w.value(*s.tok_vocab);
  } else {
    w.null();
  }
  w.key("chat_template")
      .value(s.chat_template != nullptr && s.chat_template->type == ValueType::kString);
  w.end_object();
  w.key("tensors").begin_array();
  for (const auto& t : f.tensors()) {
    w.begin_object();
    w.key("name").value(t.name);
    w.key("type").value(quant::type_name(t.type));
    w.key("shape").begin_array();
    for (int d = 0; d < t.n_dims; ++d) w.value(t.ne[d]);
    w.end_array();
    w.key("offset").value(t.offset);
    w.key("bytes").value(t.nbytes);
    w.end_object();
  }
  w.end_array();
  w.key("totals").begin_object();
  const auto total_json = [&](const TypeTotal& t) {
    w.begin_object();
    w.key("tensors").value(t.tensors);
    w.key("elements").value(t.elements);
    w.key("bytes").value(t.bytes);
    w.end_object();
  };
  for (const auto& [type, total] : s.totals) {
    w.key(quant::type_name(static_cast<quant::GgmlType>(type)));
    total_json(total);
  }
  w.key("total");
  total_json(s.all);
  w.end_object();
  if (opt.metadata) {
    w.key("metadata").begin_object();
    for (const auto& [key, v] : f.metadata()) {
      w.key(key).begin_object();
      w.key("type").value(type_label(v));
      w.key("value");
      write_value_json(w, v);
      w.end_object();
    }
    w.end_object();
  }
  w.end_object();
}

int run_inspect(const InspectOptions& opt, std::ostream& out, std::ostream& err) {
  auto file = GgufFile::open(opt.path);
  if (!file.ok()) {
    const Error& e = file.error();
    report_bad_input(e, {}, err);
    if (opt.json) {
      JsonWriter w(out);
      w.begin_object().key("error").begin_object();
      w.key("code").value(error_code_name(e.code)).key("message").value(e.message);
      w.end_object().end_object();
    }
    return kExitBadInput;
  }
  const Summary summary = summarize(**file);
  if (opt.json) {
    print_json(opt, **file, summary, out);
  } else {
    print_text(opt, **file, summary, out);
  }
  out.flush();
  return out.good() ? 0 : 1;
}

}  // namespace

Command register_inspect(CLI::App& app) {
  auto opt = std::make_shared<InspectOptions>();
  CLI::App* sub = app.add_subcommand(
      "inspect", "Show a GGUF file's header, hyperparameters, tokenizer and tensors");
  sub->add_option("file", opt->path, "GGUF model file")->required();
  sub->add_flag("--json", opt->json, "Print one JSON object instead of text");
  sub->add_flag("--metadata", opt->metadata, "Also list every metadata key (arrays as type[len])");
  return Command{sub, [opt] { return run_inspect(*opt, std::cout, std::cerr); }};
}

}  // namespace zinfer::cli
