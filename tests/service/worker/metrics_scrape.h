// Test helpers for the metrics endpoint: a plain HTTP/1.0 GET over a TCP socket (no client
// library in the way), and a parser of the Prometheus text exposition format (version 0.0.4)
// that is strict about what it accepts: every line is a comment (# HELP / # TYPE with a
// known type) or `name{label="value",...} number`, names and label names match the
// Prometheus grammar, each family's TYPE precedes its samples. promtool_check() runs
// `promtool check metrics` on the same text when promtool is installed.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

namespace zinfer::worker::testing {

// GET http://HOST:PORT/PATH; the body, or nullopt on a connection error or non-200 status.
inline std::optional<std::string> http_get(const std::string& url) {
  std::smatch m;
  static const std::regex re(R"(http://([0-9.]+):([0-9]+)(/.*))");
  if (!std::regex_match(url, m, re)) return std::nullopt;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(m[2])));
  inet_pton(AF_INET, m[1].str().c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return std::nullopt;
  }
  const std::string req = "GET " + m[3].str() + " HTTP/1.0\r\nHost: " + m[1].str() + "\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return std::nullopt;
  }
  std::string resp;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) resp.append(buf, static_cast<std::size_t>(n));
  close(fd);
  if (resp.rfind("HTTP/1.", 0) != 0 || resp.find(" 200 ") == std::string::npos) return std::nullopt;
  const auto body = resp.find("\r\n\r\n");
  return body == std::string::npos ? std::nullopt : std::optional(resp.substr(body + 4));
}

// Samples keyed by `name{label="v",...}` exactly as exposed (labels in exposition order).
struct Scrape {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;  // family → counter | gauge | histogram | ...
  double value(const std::string& key, double missing = NAN) const {
    auto it = samples.find(key);
    return it == samples.end() ? missing : it->second;
  }
  // Sum over every sample of `name` whatever its labels.
  double sum(const std::string& name) const {
    double s = 0.0;
    for (const auto& [k, v] : samples) {
      if (k == name || k.rfind(name + "{", 0) == 0) s += v;
    }
    return s;
  }
};

inline Scrape parse_exposition(const std::string& text) {
  Scrape out;
  static const std::regex type_re(
      R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::regex sample_re(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? ([^ ]+)( -?[0-9]+)?)");
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    std::smatch m;
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      EXPECT_TRUE(std::regex_match(line, m, type_re)) << "line " << n << ": " << line;
      if (!m.empty()) out.types[m[1]] = m[2];
      continue;
    }
    if (line[0] == '#') continue;
    if (!std::regex_match(line, m, sample_re)) {
      ADD_FAILURE() << "line " << n << " is not a sample: " << line;
      continue;
    }
    const std::string name = m[1];
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (family.size() > s.size() && family.compare(family.size() - s.size(), s.size(), s) == 0 &&
          out.types.count(family.substr(0, family.size() - s.size())) != 0) {
        family = family.substr(0, family.size() - s.size());
      }
    }
    EXPECT_TRUE(out.types.count(family)) << "sample before its # TYPE: " << line;
    const std::string v = m[m.size() - 2];
    double value = 0.0;
    if (v == "+Inf") {
      value = std::numeric_limits<double>::infinity();
    } else if (v == "-Inf") {
      value = -std::numeric_limits<double>::infinity();
    } else if (v == "NaN") {
      value = NAN;
    } else {
      std::size_t used = 0;
      value = std::stod(v, &used);
      EXPECT_EQ(used, v.size()) << "bad number on line " << n << ": " << line;
    }
    const std::string key = line.substr(0, line.size() - v.size() - 1 - m[m.size() - 1].length());
    EXPECT_EQ(out.samples.count(key), 0u) << "duplicate sample " << key;
    out.samples[key] = value;
  }
  return out;
}

// `promtool check metrics` on the text: "" when it passes or promtool is absent (reported
// through `ran`), else its complaint.
inline std::string promtool_check(const std::string& text, bool& ran) {
  ran = std::system("command -v promtool >/dev/null 2>&1") == 0;
  if (!ran) return "";
  char path[] = "/tmp/zinfer-metrics-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return "mkstemp failed";
  if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    close(fd);
    return "write failed";
  }
  close(fd);
  const std::string cmd = std::string("promtool check metrics < ") + path + " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  unlink(path);
  return rc == 0 ? "" : (out.empty() ? "promtool failed" : out);
}

}  // namespace zinfer::worker::testing
