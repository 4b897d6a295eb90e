#include "key_view.h"

#include "path_map.h"

namespace bitgask {
namespace fs {

bool KeyView::DirHasChildren(const std::string& path) const {
  const std::string prefix = DirPrefix(path);
  std::vector<std::string> keys;
  std::string next;
  // ScanKeys starts after a non-empty cursor: the first key past the marker.
  if (!db_->ScanKeys(prefix, 1, &keys, &next).ok() || keys.empty()) return false;
  const std::string& k = keys.front();
  return k.size() > prefix.size() && k.compare(0, prefix.size(), prefix) == 0;
}

bool KeyView::DirExists(const std::string& path) const {
  if (path.empty()) return true;
  RecordMeta m;
  if (db_->Meta(DirMarker(path), &m).ok()) return true;
  return DirHasChildren(path);
}

bool KeyView::IsShown(std::string_view key) const {
  std::string path;
  bool is_marker;
  if (!KeyPath(key, &path, &is_marker)) return false;
  return is_marker || !DirExists(path);
}

Status KeyView::UnmappedKeys(std::vector<std::string>* keys) const {
  keys->clear();
  return db_->IterKeys([&](std::string_view key) {
    if (!IsShown(key)) keys->emplace_back(key);
    return true;
  });
}

}  // namespace fs
}  // namespace bitgask
