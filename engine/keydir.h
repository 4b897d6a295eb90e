// Keydir: the in-memory ordered index from each live key to its newest record.
//
// An adaptive radix tree (ART: inner nodes of 4, 16, 48 and 256 children, path
// compression) with leaves that hold the key and a compact entry. Keys are
// compared as unsigned bytes; iteration is in that order.
//
// Memory matters: a store may hold tens of millions of keys. The target is at
// most 48 bytes plus the key per live key at 10 million keys; MemoryUsage()
// reports what the structure holds so the figure can be measured.
//
// Thread safety: none. The DB guards a Keydir with a shared_mutex: lookups and
// iteration under the shared lock, Put/Erase/Clear under the exclusive lock.
// An Iterator is invalidated by any Put, Erase or Clear.
#ifndef BITGASK_ENGINE_KEYDIR_H_
#define BITGASK_ENGINE_KEYDIR_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bitgask {
namespace internal {

// KeydirEntry::flags bit (never a record flag on disk; hint files use it):
// the entry carries an owner. It may come from the record's owner block or
// from a later metadata update, so it is kept apart from the record's
// kFlagOwner bit, which says where the record's value starts.
constexpr uint8_t kEntryHasOwner = 0x80;

// Where a key's newest record lives and what the keydir knows of it.
struct KeydirEntry {
  uint32_t file_id = 0;     // data file number
  uint32_t offset = 0;      // record start within the file
  uint32_t disk_len = 0;    // value bytes as stored (compressed length if compressed)
  uint32_t value_len = 0;   // logical value bytes
  int64_t timestamp = 0;    // unix ns (the record's ts, or a later SetMeta)
  int64_t expires = 0;      // unix ns; 0 = never. Most keys have none: store it compactly.
  uint16_t mode = 0;        // record's reserved field (file mode bits)
  // The stored record's flags (compressed, owner block...), plus
  // kEntryHasOwner when uid and gid hold the key's owner.
  uint8_t flags = 0;
  uint32_t uid = 0;  // with kEntryHasOwner; most keys have none: stored compactly
  uint32_t gid = 0;

  bool has_owner() const { return flags & kEntryHasOwner; }
  bool operator==(const KeydirEntry& o) const {
    return file_id == o.file_id && offset == o.offset && disk_len == o.disk_len &&
           value_len == o.value_len && timestamp == o.timestamp && expires == o.expires &&
           mode == o.mode && flags == o.flags && uid == o.uid && gid == o.gid;
  }
  bool operator!=(const KeydirEntry& o) const { return !(*this == o); }
};

class Keydir {
 public:
  // Keys longer than this are rejected by the DB before they reach the keydir.
  static constexpr size_t kMaxKeyLength = 65535;

  Keydir();
  ~Keydir();
  Keydir(const Keydir&) = delete;
  Keydir& operator=(const Keydir&) = delete;

  // Copies the key's entry into *out and returns true, or returns false.
  bool Get(std::string_view key, KeydirEntry* out) const;

  // Inserts or replaces. When the key was present returns true and, if old is
  // non-null, stores the replaced entry in *old.
  bool Put(std::string_view key, const KeydirEntry& entry, KeydirEntry* old = nullptr);

  // Removes the key. Returns true (and the removed entry in *old) if present.
  bool Erase(std::string_view key, KeydirEntry* old = nullptr);

  // Removes every key and frees all memory.
  void Clear();

  size_t size() const;
  // Bytes of memory held by the tree: nodes, leaves and any side tables,
  // including allocator slack the structure knows of.
  size_t MemoryUsage() const;

  // Calls fn for each key starting with prefix, in key order, until fn
  // returns false. The key view is valid only during the call.
  void ForEachPrefix(std::string_view prefix,
                     const std::function<bool(std::string_view, const KeydirEntry&)>& fn) const;

  // Ordered cursor over the keys. Usage:
  //   Keydir::Iterator it(&kd);
  //   for (it.Seek("b"); it.Valid(); it.Next()) use(it.key(), it.entry());
  class Iterator {
   public:
    explicit Iterator(const Keydir* keydir);
    ~Iterator();
    void SeekToFirst();
    // Positions at the first key >= target.
    void Seek(std::string_view target);
    bool Valid() const;
    void Next();
    // Valid only while Valid() and until the keydir changes.
    std::string_view key() const;
    KeydirEntry entry() const;

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
  };

 private:
  // Test hooks, defined in keydir.cc and found by argument-dependent lookup:
  // a structural self-check (returns "" when the tree is sound, else what is
  // wrong) and node counts {leaves, Node4, Node16, Node48, Node256}.
  friend std::string KeydirCheckInvariants(const Keydir& keydir);
  friend void KeydirNodeCounts(const Keydir& keydir, size_t counts[5]);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace internal
}  // namespace bitgask

#endif  // BITGASK_ENGINE_KEYDIR_H_
