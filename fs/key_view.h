// KeyView: which keys the filesystem shows at a path (the store-aware half of
// path_map.h).
//
// Contract (docs/Filesystem.md, "Keys that are not paths"):
//   * A directory exists at path when its marker key path + "/" exists or any
//     key starts with path + "/"; the root always exists.
//   * A key is shown at its path when KeyPath() accepts it and, for a file
//     key, no directory exists at the same path (the directory wins).
//   * Every other key is "unmapped": listed under /.bitgask/unmapped/.
// Reads only the keydir (DB::Meta, DB::ScanKeys, DB::IterKeys), never values.
// No locks of its own; safe from any thread.
#ifndef BITGASK_FS_KEY_VIEW_H_
#define BITGASK_FS_KEY_VIEW_H_

#include <string>
#include <string_view>
#include <vector>

#include "bitgask/db.h"

namespace bitgask {
namespace fs {

class KeyView {
 public:
  explicit KeyView(DB* db) : db_(db) {}

  // True when some key starts with path + "/" and is longer than that.
  bool DirHasChildren(const std::string& path) const;
  bool DirExists(const std::string& path) const;
  // True when key is shown at a path (see the contract).
  bool IsShown(std::string_view key) const;
  // Every unmapped key, in byte order.  Walks all keys: O(keys).
  Status UnmappedKeys(std::vector<std::string>* keys) const;

 private:
  DB* const db_;
};

}  // namespace fs
}  // namespace bitgask

#endif  // BITGASK_FS_KEY_VIEW_H_
