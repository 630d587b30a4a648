// CurveZMQ key files: `zinfer keygen --out PATH` writes PATH.key (the public key, to hand out)
// and PATH.key_secret (public and secret key, mode 0600), in czmq's zcert text format, so
// czmq tools and other ZeroMQ stacks read them too:
//     curve
//         public-key = "<40 Z85 characters>"
//         secret-key = "<40 Z85 characters>"      (only in the _secret file)
// An authorized-keys directory holds client public key files (each one's public-key line, or
// a bare 40-character Z85 key); *_secret files and dotfiles are skipped.
#pragma once

#include <string>
#include <unordered_set>

#include "engine/core/error.h"

namespace zinfer::transport {

struct CurveKeyPair {
  std::string public_z85;  // 40 characters
  std::string secret_z85;  // 40 characters; empty for a public-only file
};

// A fresh key pair (zmq_curve_keypair). kInternal when libzmq lacks CURVE.
Result<CurveKeyPair> curve_generate();
// Writes PATH.key and PATH.key_secret; refuses to overwrite existing files.
Status curve_write(const std::string& path, const CurveKeyPair& keys);
// Reads a key file. need_secret: a secret key must be present (the public key is derived
// from it when the file has none). Errors name `flag` and the file.
Result<CurveKeyPair> curve_read(const std::string& file, bool need_secret, const std::string& flag);
// The Z85 public keys of every key file in `dir`; an empty or unreadable directory is an
// error naming `flag` (a worker that accepts nobody is a misconfiguration).
Result<std::unordered_set<std::string>> curve_read_authorized(const std::string& dir,
                                                              const std::string& flag);

}  // namespace zinfer::transport
