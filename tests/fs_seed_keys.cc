// fs_seed_keys STORE KEY=VALUE...: writes keys straight through the engine
// (the store must not be mounted), for the mount tests that need keys the
// filesystem itself cannot create.  In KEY and VALUE, \xHH is the byte HH and
// \\ a backslash (so a key may hold '=', NUL or any byte).  Exits 0 when every
// put succeeded, else prints the error and exits 1.  A helper, not a test.
#include <cstdio>
#include <memory>
#include <string>

#include "bitgask/db.h"

namespace {

bool Unescape(const std::string& in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); i++) {
    if (in[i] != '\\') {
      out->push_back(in[i]);
    } else if (i + 1 < in.size() && in[i + 1] == '\\') {
      out->push_back('\\');
      i++;
    } else if (i + 3 < in.size() && in[i + 1] == 'x') {
      out->push_back(static_cast<char>(std::stoi(in.substr(i + 2, 2), nullptr, 16)));
      i += 3;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fs_seed_keys STORE KEY=VALUE...\n");
    return 1;
  }
  std::unique_ptr<bitgask::DB> db;
  bitgask::Options opts;
  opts.sync_on_put = false;
  bitgask::Status s = bitgask::DB::Open(argv[1], opts, &db);
  if (!s.ok()) {
    std::fprintf(stderr, "fs_seed_keys: open %s: %s\n", argv[1], s.ToString().c_str());
    return 1;
  }
  for (int i = 2; i < argc; i++) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    std::string key, value;
    if (eq == std::string::npos || !Unescape(arg.substr(0, eq), &key) ||
        !Unescape(arg.substr(eq + 1), &value)) {
      std::fprintf(stderr, "fs_seed_keys: bad argument %s\n", argv[i]);
      return 1;
    }
    s = db->Put(key, value);
    if (!s.ok()) {
      std::fprintf(stderr, "fs_seed_keys: put %s: %s\n", argv[i], s.ToString().c_str());
      return 1;
    }
  }
  s = db->Close();
  if (!s.ok()) {
    std::fprintf(stderr, "fs_seed_keys: close: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
