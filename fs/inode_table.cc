#include "inode_table.h"

#include <mutex>
#include <vector>

namespace bitgask {
namespace fs {

InodeTable::InodeTable() {
  Entry root;
  root.path = "";
  root.nlookup = 1;
  by_ino_.emplace(kRootIno, root);
  by_path_.emplace("", kRootIno);
}

uint64_t InodeTable::Lookup(const std::string& path) {
  std::unique_lock<std::shared_mutex> l(mu_);
  auto it = by_path_.find(path);
  if (it != by_path_.end()) {
    if (it->second != kRootIno) by_ino_[it->second].nlookup++;
    return it->second;
  }
  uint64_t ino = next_ino_++;
  Entry e;
  e.path = path;
  e.nlookup = 1;
  by_ino_.emplace(ino, std::move(e));
  by_path_.emplace(path, ino);
  return ino;
}

uint64_t InodeTable::Peek(const std::string& path) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  auto it = by_path_.find(path);
  return it == by_path_.end() ? 0 : it->second;
}

bool InodeTable::Path(uint64_t ino, std::string* path) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end() || it->second.detached) return false;
  *path = it->second.path;
  return true;
}

void InodeTable::Forget(uint64_t ino, uint64_t n) {
  if (ino == kRootIno) return;
  std::unique_lock<std::shared_mutex> l(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return;
  if (it->second.nlookup > n) {
    it->second.nlookup -= n;
    return;
  }
  if (!it->second.detached) {
    auto p = by_path_.find(it->second.path);
    if (p != by_path_.end() && p->second == ino) by_path_.erase(p);
  }
  by_ino_.erase(it);
}

void InodeTable::Detach(const std::string& path, uint32_t last_mode) {
  if (path.empty()) return;
  std::unique_lock<std::shared_mutex> l(mu_);
  auto p = by_path_.find(path);
  if (p == by_path_.end()) return;
  auto it = by_ino_.find(p->second);
  if (it != by_ino_.end()) {
    it->second.detached = true;
    it->second.last_mode = last_mode;
  }
  by_path_.erase(p);
}

bool InodeTable::LastMode(uint64_t ino, uint32_t* mode) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end() || !it->second.detached || it->second.last_mode == 0) return false;
  *mode = it->second.last_mode;
  return true;
}

InodeTable::Times InodeTable::GetTimes(uint64_t ino) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  auto it = by_ino_.find(ino);
  return it == by_ino_.end() ? Times() : it->second.times;
}

void InodeTable::SetTimes(uint64_t ino, const Times& t) {
  std::unique_lock<std::shared_mutex> l(mu_);
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end()) return;
  Times& cur = it->second.times;
  if (t.atime_ns != 0) cur.atime_ns = t.atime_ns;
  if (t.ctime_ns != 0) cur.ctime_ns = t.ctime_ns;
  if (t.mtime_ns != 0) cur.mtime_ns = t.mtime_ns;
}

std::vector<std::pair<std::string, uint64_t>> InodeTable::SubtreeLocked(
    const std::string& path) const {
  std::vector<std::pair<std::string, uint64_t>> out;
  auto it = by_path_.find(path);
  if (it != by_path_.end()) out.emplace_back(*it);
  // Paths below it sort together right after path + "/".
  const std::string prefix = path + "/";
  for (it = by_path_.lower_bound(prefix);
       it != by_path_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    out.emplace_back(*it);
  }
  return out;
}

void InodeTable::Rename(const std::string& from, const std::string& to) {
  if (from == to || from.empty()) return;
  std::unique_lock<std::shared_mutex> l(mu_);
  // Whatever was bound at the target (or below it) is gone now.
  for (const auto& s : SubtreeLocked(to)) {
    auto it = by_ino_.find(s.second);
    if (it != by_ino_.end()) it->second.detached = true;
    by_path_.erase(s.first);
  }
  for (const auto& m : SubtreeLocked(from)) {
    by_path_.erase(m.first);
    std::string np = to + m.first.substr(from.size());
    by_ino_[m.second].path = np;
    by_path_[np] = m.second;
  }
}

std::vector<std::pair<uint64_t, std::string>> InodeTable::Attached() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  std::vector<std::pair<uint64_t, std::string>> out;
  out.reserve(by_path_.size());
  for (const auto& kv : by_path_) out.emplace_back(kv.second, kv.first);
  return out;
}

size_t InodeTable::Size() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return by_ino_.size();
}

}  // namespace fs
}  // namespace bitgask
