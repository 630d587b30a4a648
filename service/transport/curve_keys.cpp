// CurveZMQ key files (see curve_keys.h).
#include "service/transport/curve_keys.h"

#include <sys/stat.h>
#include <zmq.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace zinfer::transport {
namespace {

bool is_z85_key(const std::string& s) {
  if (s.size() != 40) return false;
  static const std::string kZ85 =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  return s.find_first_not_of(kZ85) == std::string::npos;
}

// The quoted value of `name = "..."` on a line, or "".
std::string value_of(const std::string& line, const std::string& name) {
  const auto at = line.find(name);
  if (at == std::string::npos) return "";
  const auto open = line.find('"', at + name.size());
  const auto close = open == std::string::npos ? open : line.find('"', open + 1);
  if (close == std::string::npos) return "";
  return line.substr(open + 1, close - open - 1);
}

Status write_file(const std::string& path, const std::string& text, mode_t mode) {
  if (std::filesystem::exists(path))
    return make_error(ErrorCode::kInvalidParameter, path + ": exists; not overwriting a key");
  {
    std::ofstream f(path);
    if (!f) return make_error(ErrorCode::kInvalidParameter, path + ": cannot create");
    f << text;
    if (!f) return make_error(ErrorCode::kInvalidParameter, path + ": write failed");
  }
  if (chmod(path.c_str(), mode) != 0)
    return make_error(ErrorCode::kInvalidParameter, path + ": cannot set its permissions");
  return ok_status();
}

std::string cert_text(const CurveKeyPair& k, bool secret) {
  std::string t = secret ? "#   zinfer CurveZMQ **secret** key: keep it to this worker or client\n"
                         : "#   zinfer CurveZMQ public key: give it to the other side\n";
  t += "\nmetadata\ncurve\n    public-key = \"" + k.public_z85 + "\"\n";
  if (secret) t += "    secret-key = \"" + k.secret_z85 + "\"\n";
  return t;
}

}  // namespace

Result<CurveKeyPair> curve_generate() {
  char pub[41];
  char sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) {
    return make_error(ErrorCode::kInternal, std::string("zmq_curve_keypair: ") +
                                                zmq_strerror(zmq_errno()) +
                                                " (libzmq built without CURVE?)");
  }
  return CurveKeyPair{pub, sec};
}

Status curve_write(const std::string& path, const CurveKeyPair& keys) {
  ZINFER_RETURN_IF_ERROR(write_file(path + ".key_secret", cert_text(keys, true), 0600));
  return write_file(path + ".key", cert_text(keys, false), 0644);
}

Result<CurveKeyPair> curve_read(const std::string& file, bool need_secret,
                                const std::string& flag) {
  std::ifstream f(file);
  if (!f) return make_error(ErrorCode::kInvalidParameter, flag + " " + file + ": cannot open");
  CurveKeyPair k;
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind('#', 0) == 0) continue;
    if (std::string v = value_of(line, "public-key"); !v.empty()) k.public_z85 = v;
    if (std::string v = value_of(line, "secret-key"); !v.empty()) k.secret_z85 = v;
    std::istringstream words(line);
    std::string w;
    if (words >> w && is_z85_key(w) && k.public_z85.empty() && !need_secret) k.public_z85 = w;
  }
  auto bad = [&](const std::string& what) {
    return make_error(ErrorCode::kInvalidParameter, flag + " " + file + ": " + what);
  };
  if (need_secret) {
    if (!is_z85_key(k.secret_z85))
      return bad(
          "no secret-key = \"<40 Z85 characters>\" line (use the _secret file of zinfer keygen)");
    char pub[41];
    if (zmq_curve_public(pub, k.secret_z85.c_str()) != 0) return bad("invalid secret key");
    if (!k.public_z85.empty() && k.public_z85 != pub)
      return bad("its public-key does not belong to its secret-key");
    k.public_z85 = pub;
  } else if (!is_z85_key(k.public_z85)) {
    return bad("no public-key = \"<40 Z85 characters>\" line");
  }
  return k;
}

Result<std::unordered_set<std::string>> curve_read_authorized(const std::string& dir,
                                                              const std::string& flag) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return make_error(ErrorCode::kInvalidParameter, flag + " " + dir + ": " + ec.message());
  std::unordered_set<std::string> keys;
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name.empty() || name[0] == '.') continue;
    if (name.size() >= 7 && name.compare(name.size() - 7, 7, "_secret") == 0) continue;
    auto k = curve_read(entry.path().string(), false, flag);
    if (!k.ok()) return k.error();
    keys.insert(k->public_z85);
  }
  if (keys.empty()) {
    return make_error(ErrorCode::kInvalidParameter,
                      flag + " " + dir + ": no public key files (zinfer keygen writes NAME.key)");
  }
  return keys;
}

}  // namespace zinfer::transport
