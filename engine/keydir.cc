// Keydir: an adaptive radix tree (Leis et al., ICDE 2013) over a slab arena.
//
// Design, chosen for memory first (target: 48 bytes + key per live key):
//
// * Every object (leaf or inner node) lives in a slab arena and is named by a
//   32-bit Ref: the high bits pick a slab, the low kOffsetBits give the offset
//   in 4-byte units. Child arrays therefore cost 4 bytes per child instead of
//   8, and there is no per-object malloc header. Whether a Ref is a leaf is a
//   property of its slab (leaves and nodes never share a slab), kept as the low
//   bit of the slab's base pointer, so decoding a Ref answers both questions
//   with one table load. The arena addresses 2^32 units = 16 GiB; beyond that
//   (or when malloc fails) Put throws std::bad_alloc.
// * Slabs hold objects of one size class, have their own free list and live
//   count, and grow with their class up to 2 MiB (huge-page backed where the
//   kernel allows). A slab that empties goes back to the system (one empty
//   spare per class is kept while the class is in use), and Erase compacts
//   the tree when random erasures have left much of the slab space free. So
//   memory follows the live set; MemoryUsage() is the slab bytes plus tables.
// * Leaves hold a compact entry and the whole key (27 + 1 bytes + key for keys
//   under 127 bytes). `expires` is an optional 8-byte trailer announced by a
//   meta bit, so keys without a TTL do not pay for it. Size classes are exact
//   (4-byte steps) up to 256 bytes, then at most 3.1% apart.
// * Inner nodes: Node4, Node16 (sorted keys, SSE2 search), Node48 (byte index)
//   and Node256 (direct array); Node16 and Node48 are allocated with only the
//   child slots they need (8/12/16 and 24/32/40/48). Each node has a 12-byte
//   header: type, child count, the full length of the compressed path
//   (prefix) and its first kInline bytes, and a "terminal" leaf slot for the
//   key that ends exactly at the node (so "a" and "ab" can coexist without a
//   terminator byte).
// * Hybrid path compression: lookups check only the inline prefix bytes and
//   verify the whole key at the leaf. Updates that need the rest of a long
//   prefix read it from any leaf below the node.
// * Lazy expansion: a subtree with a single key is just that leaf.
//
// All traversals are iterative (keys may be 65535 bytes, i.e. paths that deep).
// Const operations (Get, iteration, ForEachPrefix) write nothing, so they may
// run concurrently with each other.

#include "keydir.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#define BITGASK_KEYDIR_MMAP 1
#endif
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// Under AddressSanitizer, free slab space is poisoned so that a use of a freed
// node or leaf is reported like a use of freed heap memory.
#if defined(__SANITIZE_ADDRESS__)
#define BITGASK_KEYDIR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BITGASK_KEYDIR_ASAN 1
#endif
#endif
#if defined(BITGASK_KEYDIR_ASAN)
#include <sanitizer/asan_interface.h>
#define KEYDIR_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define KEYDIR_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define KEYDIR_POISON(p, n) ((void)(p), (void)(n))
#define KEYDIR_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace bitgask {
namespace internal {
namespace {

// ---------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------

using Ref = uint32_t;  // 0 is null

constexpr unsigned kUnitShift = 2;  // offsets count 4-byte units
constexpr unsigned kOffsetBits = 19;
constexpr uint32_t kOffsetMask = (1u << kOffsetBits) - 1;
constexpr uint32_t kMaxSlabs = 1u << (32 - kOffsetBits);
// Full-size slabs are 2 MiB mappings aligned to 2 MiB, so that the kernel can
// back them with transparent huge pages (random lookups in a big tree are
// dominated by TLB and cache misses). Smaller slabs come from malloc.
constexpr size_t kMaxSlabBytes = size_t{1} << (kOffsetBits + kUnitShift);
constexpr size_t kMinSlabBytes = 4096;
// A class's next slab is about 1/kSlabFraction of the class's live bytes, so
// the unused tail of its newest slab stays a small share of its memory.
constexpr size_t kSlabFraction = 16;
// Erase compacts the tree when more than a third of at least this many slab
// bytes are free, at most once per size()/4 + kCompactMinErases erases (so
// the O(size) pass costs O(1) per Erase, amortized).
constexpr size_t kCompactMinBytes = 256 << 10;
constexpr size_t kCompactMinErases = 64;
constexpr uintptr_t kLeafSlabBit = 1;

// ---------------------------------------------------------------------------
// Inner nodes
// ---------------------------------------------------------------------------

enum NodeType : uint8_t { kNode4 = 0, kNode16 = 1, kNode48 = 2, kNode256 = 3 };

constexpr size_t kInline = 4;  // prefix bytes stored in the node header

struct Header {
  uint8_t type;
  uint8_t count;        // children of a Node4/16/48 (Node256 keeps a 16-bit count)
  uint16_t prefix_len;  // length of the compressed path below the parent's byte
  Ref terminal;         // leaf whose key ends right after the prefix, or 0
  uint8_t prefix[kInline];  // first min(prefix_len, kInline) bytes of the path
};
// Node4/Node16: keys sorted ascending; child[i] goes with keys[i].
// Node16 and Node48 objects may be allocated shorter than sizeof: only the
// first `cap` child slots exist (see kNodeClasses below).
struct Node4 {
  Header h;
  uint8_t keys[4];
  Ref child[4];
};
struct Node16 {
  Header h;
  uint8_t keys[16];
  Ref child[16];
};
// Node48: index[b] is 1 + the slot in child[] of byte b, or 0. Free slots are 0.
struct Node48 {
  Header h;
  uint8_t index[256];
  Ref child[48];
};
struct Node256 {
  Header h;
  uint16_t count;
  uint16_t unused;
  Ref child[256];
};
static_assert(sizeof(Header) == 12, "header size");
static_assert(sizeof(Node4) == 32 && sizeof(Node16) == 92 && sizeof(Node48) == 460 &&
                  sizeof(Node256) == 1040,
              "node sizes");

// Node16 and Node48 are allocated with room for only `cap` children (the
// layout is the same, the child array is just cut short), so every node is
// sized close to its contents. A node full at `cap` is rebuilt as grow_to when
// a child is added; one whose count falls to shrink_at is rebuilt as
// shrink_to (the gap between the two leaves room, so a node does not thrash
// between sizes).
enum NodeClassId : uint8_t {
  kN4, kN16x8, kN16x12, kN16x16, kN48x24, kN48x32, kN48x40, kN48x48, kN256, kNumNodeClasses
};
struct NodeClass {
  NodeType type;
  uint16_t cap;
  uint16_t shrink_at;  // 0: never (a Node4 collapses instead)
  NodeClassId grow_to;
  NodeClassId shrink_to;
};
constexpr NodeClass kNodeClasses[kNumNodeClasses] = {
    {kNode4, 4, 0, kN16x8, kN4},
    {kNode16, 8, 3, kN16x12, kN4},
    {kNode16, 12, 6, kN16x16, kN16x8},
    {kNode16, 16, 10, kN48x24, kN16x12},
    {kNode48, 24, 12, kN48x32, kN16x16},
    {kNode48, 32, 22, kN48x40, kN48x24},
    {kNode48, 40, 30, kN48x48, kN48x32},
    {kNode48, 48, 38, kN256, kN48x40},
    {kNode256, 256, 40, kN256, kN48x48},
};

constexpr size_t NodeBytes(const NodeClass& nc) {
  return nc.type == kNode4    ? sizeof(Node4)
         : nc.type == kNode16 ? offsetof(Node16, child) + nc.cap * sizeof(Ref)
         : nc.type == kNode48 ? offsetof(Node48, child) + nc.cap * sizeof(Ref)
                              : sizeof(Node256);
}

inline unsigned Count(const Header* h) {
  return h->type == kNode256 ? reinterpret_cast<const Node256*>(h)->count : h->count;
}

// ---------------------------------------------------------------------------
// Size classes
// ---------------------------------------------------------------------------

// Leaf classes: 4..256 bytes in 4-byte steps, then 32 classes per doubling
// (at most 3.1% rounding) up to 128 KiB. Node classes follow, exact sizes.
constexpr unsigned kLinearClasses = 64;  // 1..64 units
constexpr unsigned kSubShift = 5;
constexpr unsigned kSubClasses = 1u << kSubShift;
constexpr unsigned kFirstLog = 6;  // the first doubling is (2^6, 2^7] units
constexpr unsigned kLeafClasses = kLinearClasses + 9 * kSubClasses;
constexpr unsigned kNumClasses = kLeafClasses + kNumNodeClasses;  // node classes last

constexpr std::array<uint32_t, kNumClasses> MakeClassUnits() {
  std::array<uint32_t, kNumClasses> u{};
  for (unsigned c = 0; c < kLeafClasses; ++c) {
    if (c < kLinearClasses) {
      u[c] = c + 1;
    } else {
      unsigned j = c - kLinearClasses;
      unsigned k = kFirstLog + j / kSubClasses;
      u[c] = (1u << k) + (j % kSubClasses + 1) * (1u << (k - kSubShift));
    }
  }
  for (unsigned i = 0; i < kNumNodeClasses; ++i)
    u[kLeafClasses + i] = static_cast<uint32_t>(NodeBytes(kNodeClasses[i]) >> kUnitShift);
  return u;
}
constexpr std::array<uint32_t, kNumClasses> kClassUnits = MakeClassUnits();
static_assert(kClassUnits[kLeafClasses - 1] >= (3 + 27 + 65535 + 8 + 3) / 4,
              "the largest leaf has a class");

inline unsigned LeafClassFor(size_t bytes) {
  uint32_t u = static_cast<uint32_t>((bytes + 3) >> kUnitShift);
  if (u <= kLinearClasses) return u - 1;
  const unsigned k = 31 - __builtin_clz(u - 1);  // 2^k < u <= 2^(k+1), k >= 6
  const unsigned shift = k - kSubShift;
  const uint32_t sub = (u - (1u << k) + (1u << shift) - 1) >> shift;  // 1..32
  return kLinearClasses + (k - kFirstLog) * kSubClasses + (sub - 1);
}

// ---------------------------------------------------------------------------
// Slab arena
// ---------------------------------------------------------------------------

class Arena {
 public:
  Arena() { Init(); }
  ~Arena() { ReleaseAll(); }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Returns a Ref to kClassUnits[cls] 4-aligned bytes of uninitialized memory.
  // Throws std::bad_alloc when memory or the slab id space runs out.
  Ref Alloc(unsigned cls);
  // Returns r's object to its slab. r must come from Alloc and be live.
  void Free(Ref r);

  uint8_t* Ptr(Ref r) const {
    uintptr_t b = bases_[r >> kOffsetBits] & ~kLeafSlabBit;
    return reinterpret_cast<uint8_t*>(b) + (size_t{r & kOffsetMask} << kUnitShift);
  }
  bool IsLeaf(Ref r) const { return bases_[r >> kOffsetBits] & kLeafSlabBit; }
  // The size class r was allocated with.
  unsigned ClassOf(Ref r) const { return slabs_[r >> kOffsetBits].cls; }

  // Frees every slab and table.
  void Clear() {
    ReleaseAll();
    Init();
  }
  size_t MemoryUsage() const {
    return slab_bytes_ + bases_.capacity() * sizeof(uintptr_t) +
           slabs_.capacity() * sizeof(Slab) + free_ids_.capacity() * sizeof(uint32_t);
  }
  size_t LiveObjects() const {
    size_t n = 0;
    for (const ClassState& c : classes_) n += c.live;
    return n;
  }
  size_t slab_bytes() const { return slab_bytes_; }
  size_t live_bytes() const { return live_bytes_; }

  // Compaction support. BeginEvacuation marks the sparse slabs of classes with
  // much free space as evacuating (never allocated from again) and returns
  // whether there are any; the caller then Move()s every object that
  // Evacuating() reports, and EndEvacuation() returns whatever is left (after
  // an allocation failure) to normal use. Emptied slabs are released by Free.
  bool BeginEvacuation();
  bool Evacuating(Ref r) const { return slabs_[r >> kOffsetBits].evacuating; }
  // Copies r's object to a new place of the same class, frees r and returns
  // the new Ref. Throws std::bad_alloc (leaving r intact).
  Ref Move(Ref r) {
    const unsigned cls = ClassOf(r);
    const Ref nr = Alloc(cls);
    std::memcpy(Ptr(nr), Ptr(r), size_t{kClassUnits[cls]} << kUnitShift);
    Free(r);
    return nr;
  }
  void EndEvacuation();

 private:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  struct Slab {
    uint32_t free_head;  // unit offset of the first free object, or kNone
    uint32_t bump;       // units handed out so far from the slab's start
    uint32_t cap_units;  // usable units
    uint32_t live;       // objects allocated
    uint32_t prev, next; // links in the class's list of slabs with room
    uint16_t cls;
    uint8_t mapped;      // 1: a kMaxSlabBytes mapping; 0: malloc'd cap_units
    uint8_t evacuating;  // being emptied by compaction: in no partial list
  };
  struct ClassState {
    uint32_t partial = kNone;  // slabs with room (excluding the spare)
    uint32_t spare = kNone;    // one empty slab kept for reuse
    uint32_t live = 0;         // objects allocated in this class
  };

  void Init() {
    bases_.assign(1, 0);  // slab 0 is never used: Ref 0 is null
    slabs_.assign(1, Slab{});
    free_ids_.clear();
    classes_.fill(ClassState{});
    slab_bytes_ = 0;
    live_bytes_ = 0;
  }
  void ReleaseAll() {
    for (uint32_t id = 1; id < bases_.size(); ++id)
      if (bases_[id] != 0) FreeSlabMemory(id);
    std::vector<uintptr_t>().swap(bases_);
    std::vector<Slab>().swap(slabs_);
    std::vector<uint32_t>().swap(free_ids_);
  }
  static bool Full(const Slab& s, uint32_t units) {
    return s.free_head == kNone && s.bump + units > s.cap_units;
  }
  void PushPartial(ClassState& c, uint32_t id) {
    Slab& s = slabs_[id];
    s.prev = kNone;
    s.next = c.partial;
    if (c.partial != kNone) slabs_[c.partial].prev = id;
    c.partial = id;
  }
  void Unlink(ClassState& c, uint32_t id) {
    Slab& s = slabs_[id];
    if (s.prev != kNone) slabs_[s.prev].next = s.next; else c.partial = s.next;
    if (s.next != kNone) slabs_[s.next].prev = s.prev;
  }
  uint32_t NewSlab(unsigned cls);
  void ReleaseSlab(uint32_t id);
  void FreeSlabMemory(uint32_t id);
  size_t SlabBytes(const Slab& s) const {
    return s.mapped ? kMaxSlabBytes : size_t{s.cap_units} << kUnitShift;
  }

  std::vector<uintptr_t> bases_;  // slab id -> base pointer | kLeafSlabBit
  std::vector<Slab> slabs_;
  std::vector<uint32_t> free_ids_;  // released slab ids for reuse
  std::array<ClassState, kNumClasses> classes_;
  size_t slab_bytes_ = 0;  // bytes of all slabs
  size_t live_bytes_ = 0;  // bytes of allocated objects
};

// A 2 MiB-aligned mapping of kMaxSlabBytes, advised for huge pages, or
// nullptr (the caller falls back to malloc).
void* MapHugeSlab() {
#if defined(BITGASK_KEYDIR_MMAP)
  const size_t want = kMaxSlabBytes;
  void* raw = mmap(nullptr, 2 * want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (begin + want - 1) & ~(uintptr_t{want} - 1);
  if (aligned > begin) munmap(raw, aligned - begin);
  if (aligned + want < begin + 2 * want)
    munmap(reinterpret_cast<void*>(aligned + want), begin + 2 * want - (aligned + want));
  void* mem = reinterpret_cast<void*>(aligned);
#if defined(MADV_HUGEPAGE)
  madvise(mem, want, MADV_HUGEPAGE);  // a hint; failure is harmless
#endif
  return mem;
#else
  return nullptr;
#endif
}

uint32_t Arena::NewSlab(unsigned cls) {
  ClassState& c = classes_[cls];
  const size_t obj = size_t{kClassUnits[cls]} << kUnitShift;
  // Slabs of a class grow with the class: a tree with a few keys stays small
  // and a big one uses full-size (huge-page) slabs.
  size_t target = std::max(kMinSlabBytes, 4 * obj);
  while (target < kMaxSlabBytes && target * kSlabFraction < size_t{c.live} * obj) target *= 2;
  target = std::min(target, kMaxSlabBytes);

  uint32_t id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
  } else {
    if (bases_.size() >= kMaxSlabs) throw std::bad_alloc();
    id = static_cast<uint32_t>(bases_.size());
    if (bases_.size() == bases_.capacity()) {
      // Grow all three together, so that ReleaseSlab never allocates.
      const size_t cap = std::max<size_t>(16, 2 * bases_.capacity());
      bases_.reserve(cap);
      slabs_.reserve(cap);
      free_ids_.reserve(cap);
    }
  }
  const size_t cap_objs = std::max<size_t>(1, target / obj);
  size_t bytes = cap_objs * obj;
  void* mem = nullptr;
  bool mapped = false;
  if (target == kMaxSlabBytes) {
    mem = MapHugeSlab();
    mapped = mem != nullptr;
  }
  if (mem == nullptr) mem = std::malloc(bytes);
  if (mem == nullptr) throw std::bad_alloc();
  uintptr_t base = reinterpret_cast<uintptr_t>(mem) | (cls < kLeafClasses ? kLeafSlabBit : 0);
  if (id == bases_.size()) {
    bases_.push_back(base);
    slabs_.push_back(Slab{});
  } else {
    free_ids_.pop_back();
    bases_[id] = base;
  }
  Slab& s = slabs_[id];
  s.free_head = kNone;
  s.bump = 0;
  s.cap_units = static_cast<uint32_t>(bytes >> kUnitShift);
  s.live = 0;
  s.prev = s.next = kNone;
  s.cls = static_cast<uint16_t>(cls);
  s.mapped = mapped;
  s.evacuating = 0;
  slab_bytes_ += SlabBytes(s);
  KEYDIR_POISON(mem, bytes);
  return id;
}

void Arena::FreeSlabMemory(uint32_t id) {
  void* mem = reinterpret_cast<void*>(bases_[id] & ~kLeafSlabBit);
  KEYDIR_UNPOISON(mem, size_t{slabs_[id].cap_units} << kUnitShift);
#if defined(BITGASK_KEYDIR_MMAP)
  if (slabs_[id].mapped) {
    munmap(mem, kMaxSlabBytes);
    return;
  }
#endif
  std::free(mem);
}

void Arena::ReleaseSlab(uint32_t id) {
  slab_bytes_ -= SlabBytes(slabs_[id]);
  FreeSlabMemory(id);
  bases_[id] = 0;
  free_ids_.push_back(id);  // capacity was reserved when the id was created
}

Ref Arena::Alloc(unsigned cls) {
  ClassState& c = classes_[cls];
  const uint32_t units = kClassUnits[cls];
  uint32_t id = c.partial;
  if (id == kNone) {
    if (c.spare != kNone) {
      id = c.spare;
      c.spare = kNone;
    } else {
      id = NewSlab(cls);
    }
    PushPartial(c, id);
  }
  Slab& s = slabs_[id];
  uint32_t off;
  if (s.free_head != kNone) {
    off = s.free_head;
    uint8_t* p = Ptr((id << kOffsetBits) | off);
    KEYDIR_UNPOISON(p, size_t{units} << kUnitShift);
    std::memcpy(&s.free_head, p, sizeof(uint32_t));
  } else {
    off = s.bump;
    s.bump += units;
    KEYDIR_UNPOISON(Ptr((id << kOffsetBits) | off), size_t{units} << kUnitShift);
  }
  ++s.live;
  ++c.live;
  live_bytes_ += size_t{units} << kUnitShift;
  if (Full(s, units)) Unlink(c, id);
  return (id << kOffsetBits) | off;
}

void Arena::Free(Ref r) {
  const uint32_t id = r >> kOffsetBits;
  Slab& s = slabs_[id];
  ClassState& c = classes_[s.cls];
  const bool was_full = Full(s, kClassUnits[s.cls]);
  std::memcpy(Ptr(r), &s.free_head, sizeof(uint32_t));
  KEYDIR_POISON(Ptr(r), size_t{kClassUnits[s.cls]} << kUnitShift);
  s.free_head = r & kOffsetMask;
  --s.live;
  --c.live;
  live_bytes_ -= size_t{kClassUnits[s.cls]} << kUnitShift;
  if (s.evacuating) {
    if (s.live == 0) ReleaseSlab(id);
  } else if (s.live == 0) {
    if (!was_full) Unlink(c, id);
    if (c.live == 0) {
      ReleaseSlab(id);
      if (c.spare != kNone) ReleaseSlab(c.spare);
      c.spare = kNone;
    } else if (c.spare == kNone) {
      s.free_head = kNone;  // the spare restarts empty (and fully poisoned)
      s.bump = 0;
      c.spare = id;
    } else {
      ReleaseSlab(id);
    }
  } else if (was_full) {
    PushPartial(c, id);
  }
  if (slab_bytes_ == 0) Clear();  // nothing left: drop the tables too
}

bool Arena::BeginEvacuation() {
  // Per class: object capacity of its slabs.
  std::vector<size_t> cap(kNumClasses, 0);
  for (uint32_t id = 1; id < bases_.size(); ++id)
    if (bases_[id] != 0) cap[slabs_[id].cls] += slabs_[id].cap_units / kClassUnits[slabs_[id].cls];
  bool any = false;
  for (uint32_t id = 1; id < bases_.size(); ++id) {
    if (bases_[id] == 0) continue;
    Slab& s = slabs_[id];
    ClassState& c = classes_[s.cls];
    const uint32_t units = kClassUnits[s.cls];
    // Only classes where at least a quarter (and 64 KiB) is free, and there
    // only slabs at most three quarters full: their objects fill the room
    // left in fuller slabs, then new dense ones.
    const size_t free_bytes = (cap[s.cls] - c.live) * (size_t{units} << kUnitShift);
    if (free_bytes < (size_t{64} << 10) || 4 * c.live > 3 * cap[s.cls]) continue;
    if (s.live == 0 || 4 * s.live > 3 * (s.cap_units / units)) continue;
    if (!Full(s, units)) Unlink(c, id);
    s.evacuating = 1;
    any = true;
  }
  return any;
}

void Arena::EndEvacuation() {
  for (uint32_t id = 1; id < bases_.size(); ++id) {
    if (bases_[id] == 0 || !slabs_[id].evacuating) continue;
    Slab& s = slabs_[id];
    s.evacuating = 0;
    if (!Full(s, kClassUnits[s.cls])) PushPartial(classes_[s.cls], id);
  }
}

// ---------------------------------------------------------------------------
// Leaves
// ---------------------------------------------------------------------------

// Layout (byte-packed; multi-byte fields are accessed with memcpy):
//   [0]          meta: bit 0 = has an expires trailer; bits 1..7 = key length,
//                or kLongKeyTag when the length follows as a uint16
//   [1..2]       key length, only when long
//   entry (27):  file_id, offset, disk_len, value_len (4 each), timestamp (8),
//                mode (2), flags (1)
//   key bytes
//   expires (8), only when the meta bit is set
//   uid, gid (4 each), only when flags has kEntryHasOwner
constexpr unsigned kLongKeyTag = 127;
constexpr size_t kEntryBytes = 27;
constexpr uint8_t kHasExpires = 1;

inline size_t LeafBytes(size_t keylen, bool has_expires, bool has_owner) {
  return (keylen < kLongKeyTag ? 1 : 3) + kEntryBytes + keylen + (has_expires ? 8 : 0) +
         (has_owner ? 8 : 0);
}
inline size_t LeafBytes(size_t keylen, const KeydirEntry& e) {
  return LeafBytes(keylen, e.expires != 0, e.has_owner());
}

struct LeafView {
  explicit LeafView(const uint8_t* leaf) : p(leaf) {
    unsigned tag = p[0] >> 1;
    if (tag != kLongKeyTag) {
      keylen = tag;
      entry = p + 1;
    } else {
      uint16_t n;
      std::memcpy(&n, p + 1, 2);
      keylen = n;
      entry = p + 3;
    }
  }
  const uint8_t* key() const { return entry + kEntryBytes; }
  std::string_view key_view() const {
    return std::string_view(reinterpret_cast<const char*>(key()), keylen);
  }
  bool has_expires() const { return p[0] & kHasExpires; }
  bool has_owner() const { return entry[26] & kEntryHasOwner; }
  size_t bytes() const { return LeafBytes(keylen, has_expires(), has_owner()); }
  bool KeyEquals(const uint8_t* k, size_t n) const {
    return keylen == n && std::memcmp(key(), k, n) == 0;
  }
  void Read(KeydirEntry* e) const {
    std::memcpy(&e->file_id, entry, 4);
    std::memcpy(&e->offset, entry + 4, 4);
    std::memcpy(&e->disk_len, entry + 8, 4);
    std::memcpy(&e->value_len, entry + 12, 4);
    std::memcpy(&e->timestamp, entry + 16, 8);
    std::memcpy(&e->mode, entry + 24, 2);
    e->flags = entry[26];
    e->expires = 0;
    const uint8_t* trailer = key() + keylen;
    if (has_expires()) {
      std::memcpy(&e->expires, trailer, 8);
      trailer += 8;
    }
    e->uid = e->gid = 0;
    if (has_owner()) {
      std::memcpy(&e->uid, trailer, 4);
      std::memcpy(&e->gid, trailer + 4, 4);
    }
  }

  const uint8_t* p;
  const uint8_t* entry;
  size_t keylen;
};

// Writes everything but the key (which must already be in place or written
// after): the meta byte, the entry and the optional expires trailer.
void WriteLeafEntry(uint8_t* p, size_t keylen, const KeydirEntry& e) {
  const uint8_t exp = e.expires != 0 ? kHasExpires : 0;
  uint8_t* entry;
  if (keylen < kLongKeyTag) {
    p[0] = static_cast<uint8_t>(keylen << 1) | exp;
    entry = p + 1;
  } else {
    p[0] = static_cast<uint8_t>(kLongKeyTag << 1) | exp;
    uint16_t n = static_cast<uint16_t>(keylen);
    std::memcpy(p + 1, &n, 2);
    entry = p + 3;
  }
  std::memcpy(entry, &e.file_id, 4);
  std::memcpy(entry + 4, &e.offset, 4);
  std::memcpy(entry + 8, &e.disk_len, 4);
  std::memcpy(entry + 12, &e.value_len, 4);
  std::memcpy(entry + 16, &e.timestamp, 8);
  std::memcpy(entry + 24, &e.mode, 2);
  entry[26] = e.flags;
  uint8_t* trailer = entry + kEntryBytes + keylen;
  if (exp) {
    std::memcpy(trailer, &e.expires, 8);
    trailer += 8;
  }
  if (e.has_owner()) {
    std::memcpy(trailer, &e.uid, 4);
    std::memcpy(trailer + 4, &e.gid, 4);
  }
}

// ---------------------------------------------------------------------------
// Node helpers that need no arena
// ---------------------------------------------------------------------------

// Child positions, used by iteration: 0 is the terminal leaf, p >= 1 is the
// (p-1)th child of a Node4/16 or the child for byte p-1 of a Node48/256.
// Positions increase in key order.
constexpr unsigned kEnd = 0xFFFF;

// First non-empty position >= from, or kEnd.
unsigned NextPos(const Header* h, unsigned from) {
  if (from == 0) {
    if (h->terminal) return 0;
    from = 1;
  }
  switch (h->type) {
    case kNode4:
    case kNode16:
      return from <= h->count ? from : kEnd;
    case kNode48: {
      auto* n = reinterpret_cast<const Node48*>(h);
      for (unsigned b = from - 1; b < 256; ++b)
        if (n->index[b]) return b + 1;
      return kEnd;
    }
    default: {
      auto* n = reinterpret_cast<const Node256*>(h);
      for (unsigned b = from - 1; b < 256; ++b)
        if (n->child[b]) return b + 1;
      return kEnd;
    }
  }
}

Ref RefAt(const Header* h, unsigned pos) {
  if (pos == 0) return h->terminal;
  switch (h->type) {
    case kNode4: return reinterpret_cast<const Node4*>(h)->child[pos - 1];
    case kNode16: return reinterpret_cast<const Node16*>(h)->child[pos - 1];
    case kNode48: {
      auto* n = reinterpret_cast<const Node48*>(h);
      return n->child[n->index[pos - 1] - 1];
    }
    default: return reinterpret_cast<const Node256*>(h)->child[pos - 1];
  }
}

// The key byte of child position pos >= 1.
uint8_t ByteAt(const Header* h, unsigned pos) {
  if (h->type == kNode4) return reinterpret_cast<const Node4*>(h)->keys[pos - 1];
  if (h->type == kNode16) return reinterpret_cast<const Node16*>(h)->keys[pos - 1];
  return static_cast<uint8_t>(pos - 1);
}

// First child position whose byte is >= c, or kEnd.
unsigned LowerBound(const Header* h, uint8_t c) {
  if (h->type == kNode4 || h->type == kNode16) {
    const uint8_t* keys = h->type == kNode4 ? reinterpret_cast<const Node4*>(h)->keys
                                            : reinterpret_cast<const Node16*>(h)->keys;
    for (unsigned i = 0; i < h->count; ++i)
      if (keys[i] >= c) return i + 1;
    return kEnd;
  }
  return NextPos(h, unsigned{c} + 1);
}

// The slot holding the child for byte c, or nullptr.
inline Ref* FindChild(Header* h, uint8_t c) {
  switch (h->type) {
    case kNode4: {
      auto* n = reinterpret_cast<Node4*>(h);
      for (unsigned i = 0; i < n->h.count; ++i)
        if (n->keys[i] == c) return &n->child[i];
      return nullptr;
    }
    case kNode16: {
      auto* n = reinterpret_cast<Node16*>(h);
#if defined(__SSE2__)
      __m128i eq = _mm_cmpeq_epi8(_mm_set1_epi8(static_cast<char>(c)),
                                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(n->keys)));
      unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(eq)) & ((1u << n->h.count) - 1);
      return mask ? &n->child[__builtin_ctz(mask)] : nullptr;
#else
      for (unsigned i = 0; i < n->h.count; ++i)
        if (n->keys[i] == c) return &n->child[i];
      return nullptr;
#endif
    }
    case kNode48: {
      auto* n = reinterpret_cast<Node48*>(h);
      return n->index[c] ? &n->child[n->index[c] - 1] : nullptr;
    }
    default: {
      auto* n = reinterpret_cast<Node256*>(h);
      return n->child[c] ? &n->child[c] : nullptr;
    }
  }
}

// Inserts (c, child) into a sorted key/child array of count entries with room.
inline void InsertSorted(uint8_t* keys, Ref* children, unsigned count, uint8_t c, Ref child) {
  unsigned i = 0;
  while (i < count && keys[i] < c) ++i;
  std::memmove(keys + i + 1, keys + i, count - i);
  std::memmove(children + i + 1, children + i, (count - i) * sizeof(Ref));
  keys[i] = c;
  children[i] = child;
}

// Removes entry i from a sorted key/child array of count entries.
inline void EraseSorted(uint8_t* keys, Ref* children, unsigned count, unsigned i) {
  std::memmove(keys + i, keys + i + 1, count - i - 1);
  std::memmove(children + i, children + i + 1, (count - i - 1) * sizeof(Ref));
}

// ---------------------------------------------------------------------------
// Tree
// ---------------------------------------------------------------------------

class Tree {
 public:
  bool Get(std::string_view key, KeydirEntry* out) const;
  bool Put(std::string_view key, const KeydirEntry& e, KeydirEntry* old);
  bool Erase(std::string_view key, KeydirEntry* old);
  void Clear() {
    arena_.Clear();
    root_ = 0;
    size_ = 0;
    erases_since_compact_ = 0;
  }
  size_t size() const { return size_; }
  // This object (with the arena's class table), the slabs and the arena's
  // tables.
  size_t MemoryUsage() const { return sizeof(*this) + arena_.MemoryUsage(); }

  Ref root() const { return root_; }
  bool IsLeaf(Ref r) const { return arena_.IsLeaf(r); }
  const Header* Node(Ref r) const { return reinterpret_cast<const Header*>(arena_.Ptr(r)); }
  const uint8_t* Leaf(Ref r) const { return arena_.Ptr(r); }
  // Some leaf below r (r itself if a leaf); all leaves below a node share its
  // path, so this supplies prefix bytes beyond the inline ones.
  const uint8_t* AnyLeaf(Ref r) const;
  // The bytes of node h's full prefix, h being at depth `depth`. Needs only
  // the header when n <= kInline bytes are wanted.
  const uint8_t* PrefixBytes(Ref r, size_t depth, size_t n) const {
    const Header* h = Node(r);
    return n <= kInline ? h->prefix : LeafView(AnyLeaf(r)).key() + depth;
  }
  const Arena& arena() const { return arena_; }

 private:
  Header* MutNode(Ref r) { return reinterpret_cast<Header*>(arena_.Ptr(r)); }
  Ref NewLeaf(std::string_view key, const KeydirEntry& e);
  // Replaces the entry of leaf r (stored at *slot) in place, or moves it to a
  // leaf of the right size class.
  void UpdateLeaf(Ref* slot, Ref r, const KeydirEntry& e);
  // A zeroed node of the given class.
  Ref NewNode(NodeClassId id);
  NodeClassId ClassOfNode(Ref r) const {
    return static_cast<NodeClassId>(arena_.ClassOf(r) - kLeafClasses);
  }
  // Replaces node r (stored at *slot) by a node of class `to` with the same
  // header and children; returns it. Allocates before changing anything.
  Ref Rebuild(Ref* slot, Ref r, NodeClassId to);
  // Adds (c, child) to node r stored at *slot, growing it if full.
  void AddChild(Ref* slot, Ref r, uint8_t c, Ref child);
  // Removes the terminal (c < 0) or the child for byte c from node *slot, then
  // restores the invariants: collapse a node left with one way down, shrink.
  void RemoveAt(Ref* slot, int c);
  // Moves the objects of sparse slabs into dense ones so that the emptied
  // slabs can be released (slab allocation cannot otherwise return memory
  // after random erasures). Walks the whole tree.
  void Compact();

  Arena arena_;
  Ref root_ = 0;
  size_t size_ = 0;
  size_t erases_since_compact_ = 0;
};

const uint8_t* Tree::AnyLeaf(Ref r) const {
  while (!arena_.IsLeaf(r)) {
    const Header* h = Node(r);
    if (h->terminal) return arena_.Ptr(h->terminal);
    switch (h->type) {
      case kNode4: r = reinterpret_cast<const Node4*>(h)->child[0]; break;
      case kNode16: r = reinterpret_cast<const Node16*>(h)->child[0]; break;
      case kNode48: {
        const Ref* c = reinterpret_cast<const Node48*>(h)->child;
        while (*c == 0) ++c;
        r = *c;
        break;
      }
      default: {
        const Ref* c = reinterpret_cast<const Node256*>(h)->child;
        while (*c == 0) ++c;
        r = *c;
        break;
      }
    }
  }
  return arena_.Ptr(r);
}

bool Tree::Get(std::string_view key, KeydirEntry* out) const {
  const uint8_t* k = reinterpret_cast<const uint8_t*>(key.data());
  const size_t n = key.size();
  Ref r = root_;
  size_t depth = 0;
  while (r != 0) {
    if (arena_.IsLeaf(r)) {
      LeafView leaf(arena_.Ptr(r));
      if (!leaf.KeyEquals(k, n)) return false;
      if (out) leaf.Read(out);
      return true;
    }
    Header* h = reinterpret_cast<Header*>(arena_.Ptr(r));
    const size_t plen = h->prefix_len;
    if (plen != 0) {
      if (n - depth < plen) return false;
      const size_t check = std::min(plen, kInline);
      for (size_t i = 0; i < check; ++i)
        if (h->prefix[i] != k[depth + i]) return false;
      depth += plen;  // the rest of the prefix is verified at the leaf
    }
    if (depth == n) {
      r = h->terminal;
    } else {
      Ref* slot = FindChild(h, k[depth]);
      if (slot == nullptr) return false;
      r = *slot;
      ++depth;
    }
  }
  return false;
}

Ref Tree::NewLeaf(std::string_view key, const KeydirEntry& e) {
  Ref r = arena_.Alloc(LeafClassFor(LeafBytes(key.size(), e)));
  uint8_t* p = arena_.Ptr(r);
  WriteLeafEntry(p, key.size(), e);
  std::memcpy(const_cast<uint8_t*>(LeafView(p).key()), key.data(), key.size());
  return r;
}

void Tree::UpdateLeaf(Ref* slot, Ref r, const KeydirEntry& e) {
  uint8_t* p = arena_.Ptr(r);
  LeafView leaf(p);
  if (LeafClassFor(LeafBytes(leaf.keylen, e)) == LeafClassFor(leaf.bytes())) {
    WriteLeafEntry(p, leaf.keylen, e);  // same size class: in place
    return;
  }
  Ref nr = NewLeaf(leaf.key_view(), e);
  *slot = nr;
  arena_.Free(r);
}

Ref Tree::NewNode(NodeClassId id) {
  const unsigned cls = kLeafClasses + id;
  Ref r = arena_.Alloc(cls);
  uint8_t* p = arena_.Ptr(r);
  std::memset(p, 0, size_t{kClassUnits[cls]} << kUnitShift);
  reinterpret_cast<Header*>(p)->type = kNodeClasses[id].type;
  return r;
}

// Inserts (c, child) into a node with room for it.
void InsertChild(Header* h, uint8_t c, Ref child) {
  switch (h->type) {
    case kNode4: {
      auto* n = reinterpret_cast<Node4*>(h);
      InsertSorted(n->keys, n->child, n->h.count++, c, child);
      return;
    }
    case kNode16: {
      auto* n = reinterpret_cast<Node16*>(h);
      InsertSorted(n->keys, n->child, n->h.count++, c, child);
      return;
    }
    case kNode48: {
      auto* n = reinterpret_cast<Node48*>(h);
      // Free slots are 0 and one is below cap. Without erasures the slots
      // fill in order, so slot `count` is the free one: look there first.
      unsigned s = n->h.count;
      if (n->child[s] != 0) {
        s = 0;
        while (n->child[s] != 0) ++s;
      }
      n->child[s] = child;
      n->index[c] = static_cast<uint8_t>(s + 1);
      ++n->h.count;
      return;
    }
    default: {
      auto* n = reinterpret_cast<Node256*>(h);
      n->child[c] = child;
      ++n->count;
      return;
    }
  }
}

Ref Tree::Rebuild(Ref* slot, Ref r, NodeClassId to) {
  const Ref nr = NewNode(to);
  const Header* h = Node(r);
  Header* g = MutNode(nr);
  const uint8_t type = g->type;
  *g = *h;
  g->type = type;
  const NodeClassId from = ClassOfNode(r);
  if (type == kNode16 && h->type != kNode48) {
    // A Node4 or Node16 into a Node16: the same sorted arrays, copied whole.
    const uint8_t* keys = h->type == kNode4 ? reinterpret_cast<const Node4*>(h)->keys
                                            : reinterpret_cast<const Node16*>(h)->keys;
    const Ref* child = h->type == kNode4 ? reinterpret_cast<const Node4*>(h)->child
                                         : reinterpret_cast<const Node16*>(h)->child;
    auto* n = reinterpret_cast<Node16*>(g);
    std::memcpy(n->keys, keys, h->count);
    std::memcpy(n->child, child, h->count * sizeof(Ref));
  } else if (type == kNode48 && h->type == kNode48 && to > from) {
    // A Node48 growing: its byte index and slots carry over unchanged.
    auto* o = reinterpret_cast<const Node48*>(h);
    auto* n = reinterpret_cast<Node48*>(g);
    std::memcpy(n->index, o->index, sizeof(o->index));
    std::memcpy(n->child, o->child, kNodeClasses[from].cap * sizeof(Ref));
  } else {
    g->count = 0;
    for (unsigned pos = NextPos(h, 1); pos != kEnd; pos = NextPos(h, pos + 1))
      InsertChild(g, ByteAt(h, pos), RefAt(h, pos));  // ascending: appends
  }
  *slot = nr;
  arena_.Free(r);
  return nr;
}

void Tree::AddChild(Ref* slot, Ref r, uint8_t c, Ref child) {
  const NodeClass& nc = kNodeClasses[ClassOfNode(r)];
  if (Count(Node(r)) == nc.cap) r = Rebuild(slot, r, nc.grow_to);
  InsertChild(MutNode(r), c, child);
}

bool Tree::Put(std::string_view key, const KeydirEntry& e, KeydirEntry* old) {
  const uint8_t* k = reinterpret_cast<const uint8_t*>(key.data());
  const size_t n = key.size();
  assert(n <= Keydir::kMaxKeyLength);
  if (n > Keydir::kMaxKeyLength) return false;  // unrepresentable; the DB never sends it

  Ref* slot = &root_;
  size_t depth = 0;  // key bytes consumed on the way to *slot, all verified
  for (;;) {
    const Ref r = *slot;
    if (r == 0) {
      *slot = NewLeaf(key, e);
      ++size_;
      return false;
    }

    if (arena_.IsLeaf(r)) {
      LeafView leaf(arena_.Ptr(r));
      if (leaf.KeyEquals(k, n)) {
        if (old) leaf.Read(old);
        UpdateLeaf(slot, r, e);
        return true;
      }
      // Two keys below this slot: a Node4 holding their common path.
      const uint8_t* lk = leaf.key();
      const size_t limit = std::min(n, leaf.keylen);
      size_t end = depth;
      while (end < limit && lk[end] == k[end]) ++end;
      Ref nr = NewNode(kN4);
      Ref nl;
      try {
        nl = NewLeaf(key, e);
      } catch (...) {
        arena_.Free(nr);
        throw;
      }
      auto* nn = reinterpret_cast<Node4*>(MutNode(nr));
      nn->h.prefix_len = static_cast<uint16_t>(end - depth);
      std::memcpy(nn->h.prefix, k + depth, std::min(end - depth, kInline));
      if (leaf.keylen == end) {
        nn->h.terminal = r;
      } else {
        InsertSorted(nn->keys, nn->child, nn->h.count++, lk[end], r);
      }
      if (n == end) {
        nn->h.terminal = nl;
      } else {
        InsertSorted(nn->keys, nn->child, nn->h.count++, k[end], nl);
      }
      *slot = nr;
      ++size_;
      return false;
    }

    Header* h = MutNode(r);
    const size_t plen = h->prefix_len;
    if (plen != 0) {
      // Length of the prefix's agreement with the key.
      const size_t limit = std::min(plen, n - depth);
      size_t m = 0;
      const size_t inl = std::min(limit, kInline);
      while (m < inl && h->prefix[m] == k[depth + m]) ++m;
      if (m == inl && m < limit) {
        const uint8_t* full = LeafView(AnyLeaf(r)).key() + depth;
        while (m < limit && full[m] == k[depth + m]) ++m;
      }
      if (m < plen) {
        // Split the path: a new Node4 takes the first m bytes; the old node
        // keeps what follows its byte m.
        uint8_t rest[kInline + 1];  // path bytes m .. m+kInline
        const size_t rest_len = std::min(plen - m, kInline + 1);
        const uint8_t* src = plen <= kInline ? h->prefix : LeafView(AnyLeaf(r)).key() + depth;
        std::memcpy(rest, src + m, rest_len);
        Ref nr = NewNode(kN4);
        Ref nl;
        try {
          nl = NewLeaf(key, e);
        } catch (...) {
          arena_.Free(nr);
          throw;
        }
        h = MutNode(r);
        auto* nn = reinterpret_cast<Node4*>(MutNode(nr));
        nn->h.prefix_len = static_cast<uint16_t>(m);
        std::memcpy(nn->h.prefix, k + depth, std::min(m, kInline));
        h->prefix_len = static_cast<uint16_t>(plen - m - 1);
        std::memcpy(h->prefix, rest + 1, rest_len - 1);
        InsertSorted(nn->keys, nn->child, nn->h.count++, rest[0], r);
        if (depth + m == n) {
          nn->h.terminal = nl;
        } else {
          InsertSorted(nn->keys, nn->child, nn->h.count++, k[depth + m], nl);
        }
        *slot = nr;
        ++size_;
        return false;
      }
      depth += plen;
    }

    if (depth == n) {
      slot = &h->terminal;  // empty, or the leaf of this very key
      continue;
    }
    Ref* child = FindChild(h, k[depth]);
    if (child != nullptr) {
      slot = child;
      ++depth;
      continue;
    }
    Ref nl = NewLeaf(key, e);
    try {
      AddChild(slot, r, k[depth], nl);
    } catch (...) {
      arena_.Free(nl);
      throw;
    }
    ++size_;
    return false;
  }
}

bool Tree::Erase(std::string_view key, KeydirEntry* old) {
  const uint8_t* k = reinterpret_cast<const uint8_t*>(key.data());
  const size_t n = key.size();
  Ref* parent = nullptr;  // slot of the node holding *slot
  Ref* slot = &root_;
  int byte = -1;  // how *parent reaches *slot: -1 terminal, else the child byte
  size_t depth = 0;
  for (;;) {
    const Ref r = *slot;
    if (r == 0) return false;
    if (arena_.IsLeaf(r)) {
      LeafView leaf(arena_.Ptr(r));
      if (!leaf.KeyEquals(k, n)) return false;
      if (old) leaf.Read(old);
      if (parent == nullptr) {
        *slot = 0;
      } else {
        RemoveAt(parent, byte);
      }
      arena_.Free(r);
      --size_;
      if (++erases_since_compact_ >= size_ / 4 + kCompactMinErases &&
          arena_.slab_bytes() >= kCompactMinBytes &&
          3 * arena_.live_bytes() < 2 * arena_.slab_bytes()) {
        erases_since_compact_ = 0;
        Compact();
      }
      return true;
    }
    Header* h = MutNode(r);
    const size_t plen = h->prefix_len;
    if (plen != 0) {
      if (n - depth < plen) return false;
      const size_t check = std::min(plen, kInline);
      for (size_t i = 0; i < check; ++i)
        if (h->prefix[i] != k[depth + i]) return false;
      depth += plen;
    }
    parent = slot;
    if (depth == n) {
      slot = &h->terminal;
      byte = -1;
    } else {
      byte = k[depth];
      slot = FindChild(h, k[depth]);
      if (slot == nullptr) return false;
      ++depth;
    }
  }
}

void Tree::RemoveAt(Ref* slot, int c) {
  const Ref r = *slot;
  Header* h = MutNode(r);
  if (c < 0) {
    h->terminal = 0;
  } else {
    const uint8_t b = static_cast<uint8_t>(c);
    switch (h->type) {
      case kNode4: {
        auto* n = reinterpret_cast<Node4*>(h);
        unsigned i = 0;
        while (n->keys[i] != b) ++i;
        EraseSorted(n->keys, n->child, n->h.count--, i);
        break;
      }
      case kNode16: {
        auto* n = reinterpret_cast<Node16*>(h);
        unsigned i = static_cast<unsigned>(FindChild(h, b) - n->child);
        EraseSorted(n->keys, n->child, n->h.count--, i);
        break;
      }
      case kNode48: {
        auto* n = reinterpret_cast<Node48*>(h);
        n->child[n->index[b] - 1] = 0;
        n->index[b] = 0;
        --n->h.count;
        break;
      }
      default: {
        auto* n = reinterpret_cast<Node256*>(h);
        n->child[b] = 0;
        --n->count;
        break;
      }
    }
  }

  const unsigned count = Count(h);
  if (count == 0) {
    // Only the terminal leaf (if any) is left: it replaces the node.
    *slot = h->terminal;
    arena_.Free(r);
    return;
  }
  if (count == 1 && h->terminal == 0) {
    // One way down: the node's path merges into its only child.
    const unsigned pos = NextPos(h, 1);
    const uint8_t b = ByteAt(h, pos);
    const Ref child = RefAt(h, pos);
    if (!arena_.IsLeaf(child)) {
      Header* ch = MutNode(child);
      uint8_t inl[kInline];
      size_t len = std::min<size_t>(h->prefix_len, kInline);
      std::memcpy(inl, h->prefix, len);
      if (len < kInline) inl[len++] = b;
      const size_t take = std::min<size_t>(ch->prefix_len, kInline - len);
      std::memcpy(inl + len, ch->prefix, take);
      len += take;
      ch->prefix_len = static_cast<uint16_t>(h->prefix_len + 1 + ch->prefix_len);
      std::memcpy(ch->prefix, inl, len);
    }
    *slot = child;
    arena_.Free(r);
    return;
  }
  const NodeClass& nc = kNodeClasses[ClassOfNode(r)];
  if (count <= nc.shrink_at) {
    try {
      Rebuild(slot, r, nc.shrink_to);
    } catch (const std::bad_alloc&) {
      // Keeping the larger node is correct, merely less compact.
    }
  }
}

void Tree::Compact() {
  if (!arena_.BeginEvacuation()) return;
  // Depth-first over slots, so a moved object's parent slot can be updated.
  // A node is moved before its children's slots (which live in it) are taken.
  std::vector<Ref*> stack;
  if (root_ != 0) stack.push_back(&root_);
  try {
    while (!stack.empty()) {
      Ref* slot = stack.back();
      stack.pop_back();
      Ref r = *slot;
      if (arena_.Evacuating(r)) *slot = r = arena_.Move(r);
      if (arena_.IsLeaf(r)) continue;
      Header* h = MutNode(r);
      if (h->terminal) stack.push_back(&h->terminal);
      switch (h->type) {
        case kNode4: {
          auto* n = reinterpret_cast<Node4*>(h);
          for (unsigned i = 0; i < n->h.count; ++i) stack.push_back(&n->child[i]);
          break;
        }
        case kNode16: {
          auto* n = reinterpret_cast<Node16*>(h);
          for (unsigned i = 0; i < n->h.count; ++i) stack.push_back(&n->child[i]);
          break;
        }
        case kNode48: {
          auto* n = reinterpret_cast<Node48*>(h);
          for (unsigned b = 0; b < 256; ++b)
            if (n->index[b]) stack.push_back(&n->child[n->index[b] - 1]);
          break;
        }
        default: {
          auto* n = reinterpret_cast<Node256*>(h);
          for (unsigned b = 0; b < 256; ++b)
            if (n->child[b]) stack.push_back(&n->child[b]);
          break;
        }
      }
    }
  } catch (const std::bad_alloc&) {
    // Out of memory while moving: what was moved stays moved; the rest of the
    // evacuating slabs go back to normal use.
  }
  arena_.EndEvacuation();
}

// ---------------------------------------------------------------------------
// Cursor: in-order traversal with an explicit stack
// ---------------------------------------------------------------------------

class Cursor {
 public:
  explicit Cursor(const Tree* tree) : tree_(tree) {}

  void SeekToFirst() {
    Reset();
    if (tree_->root() != 0) DescendFirst(tree_->root());
  }
  void Seek(std::string_view target);
  // Positions at the first leaf of subtree r (r != 0); Next() stays inside it.
  void SeekSubtree(Ref r) {
    Reset();
    DescendFirst(r);
  }
  void Next() { Advance(); }
  bool Valid() const { return leaf_ != nullptr; }
  std::string_view key() const { return LeafView(leaf_).key_view(); }
  KeydirEntry entry() const {
    KeydirEntry e;
    LeafView(leaf_).Read(&e);
    return e;
  }

 private:
  struct Frame {
    const Header* node;
    unsigned pos;  // position of the child being visited
  };
  void Reset() {
    stack_.clear();
    leaf_ = nullptr;
  }
  // Visits the smallest leaf of r, pushing the nodes on the way.
  void DescendFirst(Ref r) {
    while (!tree_->IsLeaf(r)) {
      const Header* h = tree_->Node(r);
      const unsigned pos = NextPos(h, 0);
      stack_.push_back(Frame{h, pos});
      r = RefAt(h, pos);
    }
    leaf_ = tree_->Leaf(r);
  }
  // Visits the next leaf after the subtree of the top frame's current child.
  void Advance() {
    while (!stack_.empty()) {
      Frame& f = stack_.back();
      const unsigned pos = NextPos(f.node, f.pos + 1);
      if (pos != kEnd) {
        f.pos = pos;
        DescendFirst(RefAt(f.node, pos));
        return;
      }
      stack_.pop_back();
    }
    leaf_ = nullptr;
  }

  const Tree* tree_;
  std::vector<Frame> stack_;
  const uint8_t* leaf_ = nullptr;
};

void Cursor::Seek(std::string_view target) {
  Reset();
  const uint8_t* t = reinterpret_cast<const uint8_t*>(target.data());
  const size_t n = target.size();
  Ref r = tree_->root();
  size_t depth = 0;  // target bytes matched by the path to r
  for (;;) {
    if (r == 0) return;  // empty tree
    if (tree_->IsLeaf(r)) {
      LeafView leaf(tree_->Leaf(r));
      const size_t m = std::min(leaf.keylen, n);
      const int c = std::memcmp(leaf.key(), t, m);
      if (c > 0 || (c == 0 && leaf.keylen >= n)) {
        leaf_ = leaf.p;
      } else {
        Advance();
      }
      return;
    }
    const Header* h = tree_->Node(r);
    const size_t plen = h->prefix_len;
    if (plen != 0) {
      const size_t avail = n - depth;
      const size_t m = std::min(plen, avail);
      const int c = std::memcmp(tree_->PrefixBytes(r, depth, m), t + depth, m);
      if (c > 0 || (c == 0 && avail < plen)) {
        DescendFirst(r);  // every key below is greater than the target
        return;
      }
      if (c < 0) {
        Advance();  // every key below is smaller
        return;
      }
      depth += plen;
    }
    if (depth == n) {
      DescendFirst(r);  // the terminal equals the target; the rest are longer
      return;
    }
    const uint8_t c = t[depth];
    const unsigned pos = LowerBound(h, c);
    if (pos == kEnd) {
      Advance();
      return;
    }
    stack_.push_back(Frame{h, pos});
    if (ByteAt(h, pos) != c) {
      DescendFirst(RefAt(h, pos));
      return;
    }
    r = RefAt(h, pos);
    ++depth;
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Keydir
// ---------------------------------------------------------------------------

struct Keydir::Impl {
  Tree tree;
};

Keydir::Keydir() : impl_(new Impl) {}
Keydir::~Keydir() = default;

bool Keydir::Get(std::string_view key, KeydirEntry* out) const {
  return impl_->tree.Get(key, out);
}
bool Keydir::Put(std::string_view key, const KeydirEntry& entry, KeydirEntry* old) {
  return impl_->tree.Put(key, entry, old);
}
bool Keydir::Erase(std::string_view key, KeydirEntry* old) {
  return impl_->tree.Erase(key, old);
}
void Keydir::Clear() { impl_->tree.Clear(); }
size_t Keydir::size() const { return impl_->tree.size(); }
size_t Keydir::MemoryUsage() const { return impl_->tree.MemoryUsage(); }  // Impl is the Tree

void Keydir::ForEachPrefix(
    std::string_view prefix,
    const std::function<bool(std::string_view, const KeydirEntry&)>& fn) const {
  const Tree& tree = impl_->tree;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(prefix.data());
  const size_t n = prefix.size();
  Ref r = tree.root();
  size_t depth = 0;
  // Descend to the smallest subtree holding every key with the prefix.
  while (r != 0) {
    if (tree.IsLeaf(r)) {
      LeafView leaf(tree.Leaf(r));
      if (leaf.keylen >= n && std::memcmp(leaf.key(), p, n) == 0) {
        KeydirEntry e;
        leaf.Read(&e);
        fn(leaf.key_view(), e);
      }
      return;
    }
    const Header* h = tree.Node(r);
    const size_t plen = h->prefix_len;
    const size_t avail = n - depth;
    const size_t m = std::min(plen, avail);
    if (m != 0 && std::memcmp(tree.PrefixBytes(r, depth, m), p + depth, m) != 0) return;
    if (avail <= plen) break;  // the prefix ends inside this node's path
    depth += plen;
    const Ref* child = FindChild(const_cast<Header*>(h), p[depth]);
    if (child == nullptr) return;
    r = *child;
    ++depth;
  }
  if (r == 0) return;
  Cursor cursor(&tree);
  for (cursor.SeekSubtree(r); cursor.Valid(); cursor.Next()) {
    if (!fn(cursor.key(), cursor.entry())) return;
  }
}

struct Keydir::Iterator::Impl {
  explicit Impl(const Tree* tree) : cursor(tree) {}
  Cursor cursor;
};

Keydir::Iterator::Iterator(const Keydir* keydir) : impl_(new Impl(&keydir->impl_->tree)) {}
Keydir::Iterator::~Iterator() = default;
void Keydir::Iterator::SeekToFirst() { impl_->cursor.SeekToFirst(); }
void Keydir::Iterator::Seek(std::string_view target) { impl_->cursor.Seek(target); }
bool Keydir::Iterator::Valid() const { return impl_->cursor.Valid(); }
void Keydir::Iterator::Next() { impl_->cursor.Next(); }
std::string_view Keydir::Iterator::key() const { return impl_->cursor.key(); }
KeydirEntry Keydir::Iterator::entry() const { return impl_->cursor.entry(); }

// ---------------------------------------------------------------------------
// Test hooks (declared as friends in keydir.h)
// ---------------------------------------------------------------------------

std::string KeydirCheckInvariants(const Keydir& keydir) {
  const Tree& tree = keydir.impl_->tree;
  struct Item {
    Ref r;
    size_t depth;          // path bytes above r, including the parent's child byte
    const uint8_t* path;   // a key whose first depth bytes are that path
  };
  std::vector<Item> stack;
  size_t leaves = 0, nodes = 0;
  auto fail = [](const std::string& what, size_t depth) {
    return what + " (depth " + std::to_string(depth) + ")";
  };
  if (tree.root() != 0) stack.push_back(Item{tree.root(), 0, nullptr});
  while (!stack.empty()) {
    const Item it = stack.back();
    stack.pop_back();
    if (it.r == 0) return fail("null child", it.depth);
    if (tree.IsLeaf(it.r)) {
      ++leaves;
      LeafView leaf(tree.Leaf(it.r));
      if (leaf.keylen < it.depth) return fail("leaf key shorter than its path", it.depth);
      if (it.depth && std::memcmp(leaf.key(), it.path, it.depth) != 0)
        return fail("leaf key does not match its path", it.depth);
      continue;
    }
    ++nodes;
    const Header* h = tree.Node(it.r);
    const unsigned count = Count(h);
    const size_t plen = h->prefix_len;
    const uint8_t* any = LeafView(tree.AnyLeaf(it.r)).key();
    const size_t anylen = LeafView(tree.AnyLeaf(it.r)).keylen;
    if (anylen < it.depth + plen) return fail("leaf shorter than node path", it.depth);
    if (it.depth && std::memcmp(any, it.path, it.depth) != 0)
      return fail("node path mismatch", it.depth);
    if (std::memcmp(h->prefix, any + it.depth, std::min(plen, kInline)) != 0)
      return fail("inline prefix mismatch", it.depth);
    const size_t below = it.depth + plen;
    const unsigned cls = tree.arena().ClassOf(it.r);
    if (cls < kLeafClasses) return fail("node in a leaf class", it.depth);
    const NodeClass& nc = kNodeClasses[cls - kLeafClasses];
    if (h->type != nc.type) return fail("node type does not match its class", it.depth);
    if (count < 1 || count > nc.cap || count <= nc.shrink_at)
      return fail("count " + std::to_string(count) + " out of range for capacity " +
                      std::to_string(nc.cap),
                  it.depth);
    if (count + (h->terminal ? 1 : 0) < 2) return fail("node with one way down", it.depth);
    if (h->terminal) {
      if (!tree.IsLeaf(h->terminal)) return fail("terminal is not a leaf", it.depth);
      LeafView t(tree.Leaf(h->terminal));
      if (t.keylen != below || std::memcmp(t.key(), any, below) != 0)
        return fail("terminal key does not end at the node", it.depth);
      ++leaves;
    }
    if (h->type == kNode48) {
      const auto* n = reinterpret_cast<const Node48*>(h);
      unsigned used = 0;
      bool seen[48] = {};
      for (unsigned b = 0; b < 256; ++b) {
        if (!n->index[b]) continue;
        const unsigned s = n->index[b] - 1u;
        if (s >= nc.cap || seen[s] || n->child[s] == 0) return fail("node48 index", it.depth);
        seen[s] = true;
        ++used;
      }
      for (unsigned s = 0; s < nc.cap; ++s)
        if (!seen[s] && n->child[s] != 0) return fail("node48 stray child", it.depth);
      if (used != count) return fail("node48 count mismatch", it.depth);
    }
    if (h->type == kNode256) {
      const auto* n = reinterpret_cast<const Node256*>(h);
      unsigned used = 0;
      for (unsigned b = 0; b < 256; ++b) used += n->child[b] != 0;
      if (used != count) return fail("node256 count mismatch", it.depth);
    }
    int prev = -1;
    unsigned seen_children = 0;
    for (unsigned pos = NextPos(h, 1); pos != kEnd; pos = NextPos(h, pos + 1)) {
      const int b = ByteAt(h, pos);
      if (b <= prev) return fail("children out of order", it.depth);
      prev = b;
      ++seen_children;
      const Ref child = RefAt(h, pos);
      if (child == 0) return fail("null child", it.depth);
      // The child's path is any[0, below) + b: check the byte via its leaf.
      const uint8_t* ck = LeafView(tree.AnyLeaf(child)).key();
      const size_t cl = LeafView(tree.AnyLeaf(child)).keylen;
      if (cl <= below || ck[below] != b) return fail("child byte mismatch", it.depth);
      if (std::memcmp(ck, any, below) != 0) return fail("child path mismatch", it.depth);
      stack.push_back(Item{child, below + 1, ck});
    }
    if (seen_children != count) return fail("child count mismatch", it.depth);
  }
  if (leaves != tree.size()) return "size " + std::to_string(tree.size()) + " but " +
                                    std::to_string(leaves) + " leaves";
  if (tree.arena().LiveObjects() != leaves + nodes) return "arena live objects mismatch";
  return std::string();
}

void KeydirNodeCounts(const Keydir& keydir, size_t counts[5]) {
  const Tree& tree = keydir.impl_->tree;
  for (int i = 0; i < 5; ++i) counts[i] = 0;
  std::vector<Ref> stack;
  if (tree.root() != 0) stack.push_back(tree.root());
  while (!stack.empty()) {
    const Ref r = stack.back();
    stack.pop_back();
    if (tree.IsLeaf(r)) {
      ++counts[0];
      continue;
    }
    const Header* h = tree.Node(r);
    ++counts[1 + h->type];
    for (unsigned pos = NextPos(h, 0); pos != kEnd; pos = NextPos(h, pos + 1))
      stack.push_back(RefAt(h, pos));
  }
}

}  // namespace internal
}  // namespace bitgask
