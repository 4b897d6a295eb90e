// Fuzz target: the mapping between keys and filesystem paths
// (fs/path_map.h, fs/unmapped_name.h, fs/key_view.h).
//
// Input: one flags byte, then bytes used whole as a key, a name or a path,
// and split at '\n' into the keys of a small store for KeyView (flag bit 0).
// Checked properties:
//   * an unmapped name is a showable file name; a full (not shortened)
//     encoding decodes back to its key, a shortened one never decodes;
//     a name that decodes is the canonical encoding of its key;
//   * KeyPath accepts only keys it can give back: path (+ "/" for a marker)
//     is the key, every component is showable, nothing is reserved;
//   * JoinPath and ParentPath invert each other for valid names, and a key
//     under DirPrefix(p) sorts below SubtreeEnd(p);
//   * KeyView over a store: no two shown keys share a path, a shown file is
//     never also a directory, and no two unmapped keys share a name.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bitgask/db.h"
#include "fuzz_input.h"
#include "fuzz_target.h"
#include "fuzz_temp_dir.h"
#include "key_view.h"
#include "path_map.h"
#include "unmapped_name.h"

using namespace bitgask;
using namespace bitgask::fs;

namespace {

void CheckUnmappedName(std::string_view key) {
  if (key.empty()) return;  // the store has no empty keys
  const std::string name = EncodeUnmappedName(key);
  FUZZ_CHECK(IsShowableName(name));
  std::string back;
  if (name.find("%~") == std::string::npos) {
    FUZZ_CHECK(DecodeUnmappedName(name, &back));
    FUZZ_CHECK(back == key);
  } else {
    FUZZ_CHECK(!DecodeUnmappedName(name, &back));
  }
}

void CheckDecodeCanonical(std::string_view name) {
  std::string key;
  if (DecodeUnmappedName(name, &key)) FUZZ_CHECK(EncodeUnmappedName(key) == name);
}

void CheckKeyPath(std::string_view key) {
  std::string path;
  bool is_marker = false;
  if (!KeyPath(key, &path, &is_marker)) return;
  FUZZ_CHECK(path + (is_marker ? "/" : "") == key);
  FUZZ_CHECK(!IsReserved(path));
  const std::string parent = ParentPath(path);
  const std::string name = parent.empty() ? path : path.substr(parent.size() + 1);
  FUZZ_CHECK(IsShowableName(name));
  FUZZ_CHECK(JoinPath(parent, name) == path);
  if (!parent.empty()) {
    const std::string prefix = DirPrefix(parent);
    FUZZ_CHECK(key.substr(0, prefix.size()) == prefix);
    FUZZ_CHECK(std::string(key) < SubtreeEnd(parent));
  }
}

void CheckJoin(std::string_view parent_key, std::string_view name) {
  std::string parent;
  bool is_marker;
  if (!KeyPath(parent_key, &parent, &is_marker) || !IsValidName(name)) return;
  FUZZ_CHECK(ParentPath(JoinPath(parent, name)) == parent);
}

// A store reused across inputs (opening one per input would dominate the
// run time), recreated every kReuse inputs so its log stays small.
DB* SharedStore() {
  constexpr int kReuse = 500;
  static std::unique_ptr<DB> db;
  static int uses = 0;
  if (db && ++uses % kReuse != 0) return db.get();
  if (db) FUZZ_CHECK(db->Close().ok());
  db.reset();
  const std::string path = FuzzTempDir::Path() + "/keyview";
  std::filesystem::remove_all(path);
  Options o;
  o.sync_on_put = false;
  o.sync_on_delete = false;
  o.merge_interval = std::chrono::milliseconds(0);
  FUZZ_CHECK(DB::Open(path, o, &db).ok());
  return db.get();
}

void CheckKeyView(std::string_view text) {
  DB* db = SharedStore();
  FUZZ_CHECK(db->DeleteAll().ok());
  std::set<std::string> keys;
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view key = text.substr(start, end - start);
    if (!key.empty() && db->Put(key, "").ok()) keys.emplace(key);
    start = end + 1;
  }
  KeyView view(db);
  std::vector<std::string> unmapped;
  FUZZ_CHECK(view.UnmappedKeys(&unmapped).ok());
  const std::set<std::string> unmapped_set(unmapped.begin(), unmapped.end());
  std::map<std::string, std::string> shown_at;  // path -> key
  std::set<std::string> names;
  for (const std::string& key : keys) {
    const bool shown = view.IsShown(key);
    FUZZ_CHECK(shown != (unmapped_set.count(key) == 1));
    if (!shown) {
      FUZZ_CHECK(names.insert(EncodeUnmappedName(key)).second);
      continue;
    }
    std::string path;
    bool is_marker;
    FUZZ_CHECK(KeyPath(key, &path, &is_marker));
    FUZZ_CHECK(shown_at.emplace(path, key).second);
    FUZZ_CHECK(is_marker == view.DirExists(path));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = setenv("BITGASK_LOG_LEVEL", "off", 0) == 0;
  (void)quiet;
  FuzzInput in(data, size);
  const uint8_t flags = in.TakeByte();
  const std::string_view text = in.Rest();
  CheckUnmappedName(text);
  CheckDecodeCanonical(text);
  CheckKeyPath(text);
  const size_t cut = text.find('\n');
  if (cut != std::string_view::npos) CheckJoin(text.substr(0, cut), text.substr(cut + 1));
  if (flags & 1) CheckKeyView(text);
  return 0;
}
