// Tests for Keydir (engine/keydir.h): the adaptive radix tree keydir.
#include "keydir.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bitgask {
namespace internal {
namespace {

using namespace std::string_literals;
using Model = std::map<std::string, KeydirEntry>;

// A distinct, fully populated entry derived from n (expires set when asked).
KeydirEntry MakeEntry(uint64_t n, bool with_expires = false) {
  KeydirEntry e;
  e.file_id = static_cast<uint32_t>(n * 7 + 1);
  e.offset = static_cast<uint32_t>(n * 13 + 2);
  e.disk_len = static_cast<uint32_t>(n + 3);
  e.value_len = static_cast<uint32_t>(n * 2 + 4);
  e.timestamp = static_cast<int64_t>(n) * 1000003 - 5;
  e.expires = with_expires ? static_cast<int64_t>(n) * 31 + 1000000007 : 0;
  e.mode = static_cast<uint16_t>(n * 11);
  // Record flags only: an owner (kEntryHasOwner) is a trailer of its own,
  // tested with owners.
  e.flags = static_cast<uint8_t>(n * 3) & static_cast<uint8_t>(~kEntryHasOwner);
  return e;
}

std::string Check(const Keydir& kd) { return KeydirCheckInvariants(kd); }

struct Counts {
  size_t leaves, n4, n16, n48, n256;
};
Counts NodeCounts(const Keydir& kd) {
  size_t c[5];
  KeydirNodeCounts(kd, c);
  return Counts{c[0], c[1], c[2], c[3], c[4]};
}

std::vector<std::pair<std::string, KeydirEntry>> Dump(const Keydir& kd) {
  std::vector<std::pair<std::string, KeydirEntry>> out;
  Keydir::Iterator it(&kd);
  for (it.SeekToFirst(); it.Valid(); it.Next()) out.emplace_back(std::string(it.key()), it.entry());
  return out;
}

std::vector<std::pair<std::string, KeydirEntry>> Dump(const Model& m) {
  return std::vector<std::pair<std::string, KeydirEntry>>(m.begin(), m.end());
}

std::vector<std::string> Keys(const Keydir& kd) {
  std::vector<std::string> out;
  for (auto& kv : Dump(kd)) out.push_back(kv.first);
  return out;
}

std::vector<std::pair<std::string, KeydirEntry>> Prefixed(const Keydir& kd, std::string_view p) {
  std::vector<std::pair<std::string, KeydirEntry>> out;
  kd.ForEachPrefix(p, [&](std::string_view k, const KeydirEntry& e) {
    out.emplace_back(std::string(k), e);
    return true;
  });
  return out;
}

std::vector<std::pair<std::string, KeydirEntry>> Prefixed(const Model& m, const std::string& p) {
  std::vector<std::pair<std::string, KeydirEntry>> out;
  for (auto it = m.lower_bound(p); it != m.end() && it->first.compare(0, p.size(), p) == 0; ++it)
    out.push_back(*it);
  return out;
}

// Compares everything observable about kd against the model.
void ExpectSame(const Keydir& kd, const Model& m) {
  ASSERT_EQ(kd.size(), m.size());
  ASSERT_EQ(Check(kd), "");
  ASSERT_TRUE(Dump(kd) == Dump(m));
  ASSERT_TRUE(Prefixed(kd, "") == Dump(m));
  for (const auto& kv : m) {
    KeydirEntry e;
    ASSERT_TRUE(kd.Get(kv.first, &e)) << kv.first;
    ASSERT_EQ(e, kv.second);
  }
}

std::string Byte(int b) { return std::string(1, static_cast<char>(b)); }

TEST(KeydirTest, EmptyTree) {
  Keydir kd;
  EXPECT_EQ(kd.size(), 0u);
  KeydirEntry e = MakeEntry(1);
  EXPECT_FALSE(kd.Get("a", &e));
  EXPECT_EQ(e, MakeEntry(1));  // untouched on a miss
  EXPECT_FALSE(kd.Get("", nullptr));
  EXPECT_FALSE(kd.Erase("a"));
  Keydir::Iterator it(&kd);
  it.SeekToFirst();
  EXPECT_FALSE(it.Valid());
  it.Seek("");
  EXPECT_FALSE(it.Valid());
  it.Seek("zzz");
  EXPECT_FALSE(it.Valid());
  EXPECT_TRUE(Prefixed(kd, "").empty());
  EXPECT_TRUE(Prefixed(kd, "a").empty());
  EXPECT_EQ(Check(kd), "");
  EXPECT_LT(kd.MemoryUsage(), 8192u);
  kd.Clear();
  EXPECT_EQ(kd.size(), 0u);
}

TEST(KeydirTest, SingleKey) {
  Keydir kd;
  KeydirEntry old;
  EXPECT_FALSE(kd.Put("hello", MakeEntry(5), &old));
  EXPECT_EQ(kd.size(), 1u);
  KeydirEntry e;
  ASSERT_TRUE(kd.Get("hello", &e));
  EXPECT_EQ(e, MakeEntry(5));
  EXPECT_TRUE(kd.Get("hello", nullptr));
  EXPECT_FALSE(kd.Get("hell", &e));
  EXPECT_FALSE(kd.Get("hello!", &e));
  EXPECT_FALSE(kd.Get("jello", &e));
  EXPECT_FALSE(kd.Get("", &e));

  Keydir::Iterator it(&kd);
  it.SeekToFirst();
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "hello");
  EXPECT_EQ(it.entry(), MakeEntry(5));
  it.Next();
  EXPECT_FALSE(it.Valid());
  it.Seek("a");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "hello");
  it.Seek("hello");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "hello");
  it.Seek("hello\x01");
  EXPECT_FALSE(it.Valid());
  it.Seek("i");
  EXPECT_FALSE(it.Valid());

  EXPECT_EQ(Prefixed(kd, "he").size(), 1u);
  EXPECT_EQ(Prefixed(kd, "hello").size(), 1u);
  EXPECT_TRUE(Prefixed(kd, "hello!").empty());
  EXPECT_TRUE(Prefixed(kd, "x").empty());
  EXPECT_EQ(Check(kd), "");

  EXPECT_FALSE(kd.Erase("hell"));
  EXPECT_TRUE(kd.Erase("hello", &old));
  EXPECT_EQ(old, MakeEntry(5));
  EXPECT_EQ(kd.size(), 0u);
  EXPECT_FALSE(kd.Get("hello", &e));
  EXPECT_EQ(Check(kd), "");
}

TEST(KeydirTest, PrefixKeys) {
  Keydir kd;
  Model m;
  const std::vector<std::string> keys = {"abc", "a", "ab", "abd", "b", "abcde", "abcd"};
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_FALSE(kd.Put(keys[i], MakeEntry(i)));
    m[keys[i]] = MakeEntry(i);
    ExpectSame(kd, m);
  }
  EXPECT_EQ(Keys(kd), (std::vector<std::string>{"a", "ab", "abc", "abcd", "abcde", "abd", "b"}));
  EXPECT_TRUE(Prefixed(kd, "abc") == Prefixed(m, "abc"));
  EXPECT_EQ(Prefixed(kd, "abc").size(), 3u);
  EXPECT_EQ(Prefixed(kd, "a").size(), 6u);
  EXPECT_EQ(Prefixed(kd, "").size(), 7u);
  EXPECT_EQ(Prefixed(kd, "abcdef").size(), 0u);

  Keydir::Iterator it(&kd);
  it.Seek("abca");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "abcd");
  it.Seek("ab\xff");  // 'd' < 0xff: past every "ab..." key
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "b");
  it.Seek("abcdd");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "abcde");
  it.Seek("abcdf");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "abd");
  it.Seek("abd\x00"s);
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "b");

  // The empty key is never inserted by the DB; it must still behave.
  EXPECT_FALSE(kd.Get("", nullptr));
  EXPECT_FALSE(kd.Put("", MakeEntry(99)));
  m[""] = MakeEntry(99);
  ExpectSame(kd, m);
  it.SeekToFirst();
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "");
  EXPECT_TRUE(kd.Erase(""));
  m.erase("");
  ExpectSame(kd, m);

  // Erase in an order that collapses terminals and inner nodes.
  for (const char* k : {"ab", "abcd", "a", "abc", "abcde", "b", "abd"}) {
    KeydirEntry old;
    ASSERT_TRUE(kd.Erase(k, &old)) << k;
    EXPECT_EQ(old, m[k]);
    m.erase(k);
    ExpectSame(kd, m);
    EXPECT_FALSE(kd.Erase(k));
  }
  EXPECT_EQ(NodeCounts(kd).leaves, 0u);
}

TEST(KeydirTest, ZeroAndFFBytes) {
  Keydir kd;
  Model m;
  const std::vector<std::string> keys = {
      "\x00"s,     "\x00\x00"s,  "\x00\x00\x00"s, "\x00\xff"s, "\xff"s,    "\xff\xff"s,
      "\xff\x00"s, "a\x00"s "b", "a\xff"s,        "a"s,        "\x7f"s,    "\x80"s,
      "\x01"s,     "a\x00"s,     "\x80\x00\x80"s, "\xfe\xff"s, "\x00\x01"s};
  for (size_t i = 0; i < keys.size(); ++i) {
    kd.Put(keys[i], MakeEntry(i, i % 2 == 0));
    m[keys[i]] = MakeEntry(i, i % 2 == 0);
  }
  ExpectSame(kd, m);
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());  // std::string compares as unsigned chars
  EXPECT_EQ(Keys(kd), sorted);
  EXPECT_EQ(Keys(kd).front(), "\x00"s);
  EXPECT_EQ(Keys(kd).back(), "\xff\xff"s);
  EXPECT_TRUE(Prefixed(kd, "\x00"s) == Prefixed(m, "\x00"s));
  EXPECT_EQ(Prefixed(kd, "\x00"s).size(), 5u);
  EXPECT_TRUE(Prefixed(kd, "\xff"s) == Prefixed(m, "\xff"s));
  EXPECT_TRUE(Prefixed(kd, "a\x00"s) == Prefixed(m, "a\x00"s));
  Keydir::Iterator it(&kd);
  it.Seek("\x00\x00\x01"s);
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "\x00\x01"s);
  it.Seek("\xff\xff\x00"s);
  EXPECT_FALSE(it.Valid());
  for (const std::string& k : keys) {
    ASSERT_TRUE(kd.Erase(k));
    m.erase(k);
    ExpectSame(kd, m);
  }
}

// The type the parent of n single-byte children takes while growing.
Counts GrowthShape(size_t n) {
  Counts c{n + 1, 0, 0, 0, 0};
  if (n <= 4) c.n4 = 1; else if (n <= 16) c.n16 = 1; else if (n <= 48) c.n48 = 1; else c.n256 = 1;
  return c;
}

TEST(KeydirTest, GrowAndShrinkThroughEveryNodeType) {
  Keydir kd;
  Model m;
  std::mt19937 rng(7);
  std::vector<int> bytes(256);
  for (int i = 0; i < 256; ++i) bytes[i] = i;
  std::shuffle(bytes.begin(), bytes.end(), rng);

  // "node/" is the terminal of the parent; children are "node/" + one byte.
  kd.Put("node/", MakeEntry(1000));
  m["node/"] = MakeEntry(1000);
  for (size_t i = 0; i < 256; ++i) {
    const std::string k = "node/" + Byte(bytes[i]);
    kd.Put(k, MakeEntry(i));
    m[k] = MakeEntry(i);
    ExpectSame(kd, m);
    const Counts c = NodeCounts(kd), want = GrowthShape(i + 1);
    ASSERT_EQ(c.leaves, want.leaves);
    ASSERT_EQ(c.n4, want.n4) << i;
    ASSERT_EQ(c.n16, want.n16) << i;
    ASSERT_EQ(c.n48, want.n48) << i;
    ASSERT_EQ(c.n256, want.n256) << i;
  }
  // 44 more keys one level down: 300 keys under "node/".
  for (int i = 0; i < 44; ++i) {
    const std::string k = "node/" + Byte(bytes[i]) + "x" + std::to_string(i);
    kd.Put(k, MakeEntry(2000 + i));
    m[k] = MakeEntry(2000 + i);
  }
  ExpectSame(kd, m);
  EXPECT_EQ(kd.size(), 301u);
  EXPECT_EQ(Prefixed(kd, "node/").size(), 301u);
  EXPECT_TRUE(Prefixed(kd, "node/" + Byte(bytes[3])) == Prefixed(m, "node/" + Byte(bytes[3])));
  for (int i = 0; i < 44; ++i) {
    const std::string k = "node/" + Byte(bytes[i]) + "x" + std::to_string(i);
    ASSERT_TRUE(kd.Erase(k));
    m.erase(k);
  }
  ExpectSame(kd, m);

  // Shrink with hysteresis: 256 -> 48 at 40 children, 48 -> 16 at 12,
  // 16 -> 4 at 3, and the last child merges with the terminal's node.
  std::shuffle(bytes.begin(), bytes.end(), rng);
  for (size_t i = 0; i < 256; ++i) {
    const std::string k = "node/" + Byte(bytes[i]);
    KeydirEntry old;
    ASSERT_TRUE(kd.Erase(k, &old));
    EXPECT_EQ(old, m[k]);
    m.erase(k);
    ExpectSame(kd, m);
    const size_t left = 255 - i;
    const Counts c = NodeCounts(kd);
    ASSERT_EQ(c.leaves, left + 1);
    if (left == 0) {
      ASSERT_EQ(c.n4 + c.n16 + c.n48 + c.n256, 0u);  // just the "node/" leaf
    } else if (left > 40) {
      ASSERT_EQ(c.n256, 1u) << left;
    } else if (left > 12) {
      ASSERT_EQ(c.n48, 1u) << left;
    } else if (left > 3) {
      ASSERT_EQ(c.n16, 1u) << left;
    } else {
      ASSERT_EQ(c.n4, 1u) << left;
    }
  }
  ASSERT_TRUE(kd.Erase("node/"));
  EXPECT_EQ(kd.size(), 0u);
  EXPECT_EQ(Check(kd), "");
}

TEST(KeydirTest, PutReplacesAndReturnsOld) {
  Keydir kd;
  KeydirEntry old;
  EXPECT_FALSE(kd.Put("k1", MakeEntry(1), &old));
  EXPECT_FALSE(kd.Put("k2", MakeEntry(2)));
  const size_t mem = kd.MemoryUsage();
  EXPECT_TRUE(kd.Put("k1", MakeEntry(3), &old));
  EXPECT_EQ(old, MakeEntry(1));
  EXPECT_TRUE(kd.Put("k1", MakeEntry(4)));  // old may be null
  EXPECT_EQ(kd.size(), 2u);
  EXPECT_EQ(kd.MemoryUsage(), mem);  // replaced in place
  KeydirEntry e;
  ASSERT_TRUE(kd.Get("k1", &e));
  EXPECT_EQ(e, MakeEntry(4));
  ASSERT_TRUE(kd.Get("k2", &e));
  EXPECT_EQ(e, MakeEntry(2));
  EXPECT_TRUE(kd.Erase("k2", &old));
  EXPECT_EQ(old, MakeEntry(2));
  EXPECT_FALSE(kd.Erase("k2", &old));
  EXPECT_EQ(old, MakeEntry(2));  // untouched on a miss
  EXPECT_EQ(Check(kd), "");
}

TEST(KeydirTest, ExpiresRoundTrip) {
  Keydir kd;
  Model m;
  // Key lengths around size-class boundaries, so the trailer sometimes fits
  // in place and sometimes moves the leaf.
  for (int len = 1; len <= 300; ++len) {
    const std::string k(static_cast<size_t>(len), static_cast<char>('a' + len % 26));
    kd.Put(k + "!", MakeEntry(len));
    m[k + "!"] = MakeEntry(len);
  }
  ExpectSame(kd, m);
  const size_t base_mem = kd.MemoryUsage();
  for (int round = 0; round < 3; ++round) {
    for (auto& kv : m) {
      KeydirEntry old, e = MakeEntry(kv.second.file_id + 1, true);
      ASSERT_TRUE(kd.Put(kv.first, e, &old));
      EXPECT_EQ(old, kv.second);
      ASSERT_NE(e.expires, 0);
      kv.second = e;
    }
    ExpectSame(kd, m);
    for (auto& kv : m) {
      KeydirEntry old, e = MakeEntry(kv.second.file_id + 1, false);
      ASSERT_TRUE(kd.Put(kv.first, e, &old));
      EXPECT_EQ(old, kv.second);
      EXPECT_NE(old.expires, 0);
      kv.second = e;
    }
    ExpectSame(kd, m);
    for (auto& kv : m) EXPECT_EQ(kv.second.expires, 0);
  }
  // Expires changing value while set stays exact.
  KeydirEntry e = MakeEntry(77, true);
  kd.Put("a!", e);
  e.expires = -1;  // any non-zero value round-trips
  kd.Put("a!", e);
  KeydirEntry got;
  ASSERT_TRUE(kd.Get("a!", &got));
  EXPECT_EQ(got.expires, -1);
  e.expires = INT64_MAX;
  kd.Put("a!", e);
  ASSERT_TRUE(kd.Get("a!", &got));
  EXPECT_EQ(got, e);
  e.expires = 0;
  kd.Put("a!", e);
  ASSERT_TRUE(kd.Get("a!", &got));
  EXPECT_EQ(got, e);
  m["a!"] = e;
  ExpectSame(kd, m);
  // No memory was lost moving leaves between classes.
  EXPECT_LE(kd.MemoryUsage(), base_mem + 64 * 1024);
}

TEST(KeydirTest, IteratorSeekAndEarlyStop) {
  Keydir kd;
  for (int i = 0; i < 1000; i += 2) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "k%04d", i);
    kd.Put(buf, MakeEntry(i));
  }
  Keydir::Iterator it(&kd);
  it.Seek("k0101");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "k0102");
  EXPECT_EQ(it.entry(), MakeEntry(102));
  it.Next();
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "k0104");
  it.Seek("k0998");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "k0998");
  it.Next();
  EXPECT_FALSE(it.Valid());
  it.Seek("k1");
  EXPECT_FALSE(it.Valid());
  it.Seek("");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "k0000");
  it.Seek("j");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "k0000");

  std::vector<std::string> seen;
  kd.ForEachPrefix("k01", [&](std::string_view k, const KeydirEntry&) {
    seen.emplace_back(k);
    return seen.size() < 3;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"k0100", "k0102", "k0104"}));
  size_t n = 0;
  kd.ForEachPrefix("k01", [&](std::string_view, const KeydirEntry&) { return ++n, true; });
  EXPECT_EQ(n, 50u);
}

// Narrow keys: a small alphabet and short keys, so prefixes collide
// constantly (the empty key included).
std::string NarrowKey(std::mt19937_64& rng) {
  static const char kAlphabet[] = {'a', 'b', 'c', '\0', '\xff', '\x80'};
  const size_t len = rng() % 7;
  std::string k;
  for (size_t i = 0; i < len; ++i) k.push_back(kAlphabet[rng() % sizeof(kAlphabet)]);
  // Now and then a key with a long shared path, to exercise prefixes longer
  // than the inline bytes.
  if (rng() % 16 == 0) k += std::string(5 + rng() % 20, 'p') + kAlphabet[rng() % 3];
  return k;
}

// Wide keys: the fan-out after the first byte is 5, 20, 60 or 256 depending
// on that byte, so the population sweeps nodes of every type.
std::string WideKey(std::mt19937_64& rng) {
  static const unsigned kFanout[] = {5, 20, 60, 256};
  const unsigned first = static_cast<unsigned>(rng() % 4);
  std::string k(1, static_cast<char>('a' + first));
  if (rng() % 8 == 0) return k;
  k.push_back(static_cast<char>(rng() % kFanout[first]));
  if (rng() % 4 == 0) k.push_back(static_cast<char>(rng() % 3));
  if (rng() % 16 == 0) k += std::string(6 + rng() % 6, '\xee');
  return k;
}

// Mixed random Put/Erase/Get against a std::map, with Seek, iteration and
// ForEachPrefix compared periodically. Phases alternate: growing (60% Put,
// 30% Erase of random keys) until the tree holds grow_to keys or the phase
// is long, then draining (85% Erase of existing keys, 5% Put) to a few keys,
// so nodes cross their grow and shrink thresholds in both directions.
void RunRandomized(std::string (*gen)(std::mt19937_64&), uint64_t seed, int ops, size_t grow_to,
                   bool expect_every_type) {
  Keydir kd;
  Model m;
  std::mt19937_64 rng(seed);
  // Node types seen, and seen disappearing again (shrinks), per type.
  bool seen[4] = {}, shrunk[4] = {};
  bool growing = true;
  int phase_start = 0;
  for (int op = 1; op <= ops; ++op) {
    if (growing && (m.size() >= grow_to || op - phase_start > 60000)) {
      growing = false;
      phase_start = op;
    } else if (!growing && m.size() <= 4) {
      growing = true;
      phase_start = op;
    }
    std::string k = gen(rng);
    const unsigned what = rng() % 100;
    const bool put = what < (growing ? 60u : 5u);
    const bool erase = !put && what < 90;
    if (erase && !growing && !m.empty()) {
      auto victim = m.lower_bound(k);
      k = victim == m.end() ? m.begin()->first : victim->first;
    }
    if (put) {
      const KeydirEntry e = MakeEntry(rng() % 1000000, rng() % 4 == 0);
      KeydirEntry old = MakeEntry(0);
      const auto found = m.find(k);
      ASSERT_EQ(kd.Put(k, e, &old), found != m.end());
      if (found != m.end()) {
        ASSERT_EQ(old, found->second);
      }
      m[k] = e;
    } else if (erase) {
      KeydirEntry old = MakeEntry(0);
      const auto found = m.find(k);
      ASSERT_EQ(kd.Erase(k, &old), found != m.end());
      if (found != m.end()) {
        ASSERT_EQ(old, found->second);
        m.erase(found);
      }
    } else {
      KeydirEntry got;
      const auto found = m.find(k);
      ASSERT_EQ(kd.Get(k, &got), found != m.end());
      if (found != m.end()) {
        ASSERT_EQ(got, found->second);
      }
    }
    ASSERT_EQ(kd.size(), m.size());

    if (op % 4000 == 0) {
      // Seek at random targets, then a few steps of iteration.
      Keydir::Iterator it(&kd);
      for (int s = 0; s < 16; ++s) {
        const std::string target = gen(rng);
        it.Seek(target);
        auto mit = m.lower_bound(target);
        for (int step = 0; step < 5; ++step, ++mit, it.Next()) {
          ASSERT_EQ(it.Valid(), mit != m.end());
          if (mit == m.end()) break;
          ASSERT_EQ(it.key(), mit->first);
          ASSERT_EQ(it.entry(), mit->second);
        }
        if (s % 4 != 0) continue;
        // Non-empty prefixes here; ExpectSame covers the empty one.
        std::string p = gen(rng).substr(0, 1 + rng() % 3);
        ASSERT_TRUE(Prefixed(kd, p) == Prefixed(m, p)) << "prefix of length " << p.size();
      }
    }
    if (op % 25000 == 0) ExpectSame(kd, m);
    if (expect_every_type && op % 1000 == 0) {
      const Counts c = NodeCounts(kd);
      const size_t by_type[4] = {c.n4, c.n16, c.n48, c.n256};
      for (int t = 0; t < 4; ++t) {
        if (by_type[t] > 0) seen[t] = true;
        if (by_type[t] == 0 && seen[t]) shrunk[t] = true;
      }
    }
  }
  if (expect_every_type) {
    for (int t = 1; t < 4; ++t) {
      EXPECT_TRUE(seen[t]) << "node type " << t << " never used";
      EXPECT_TRUE(shrunk[t]) << "node type " << t << " never shrank away";
    }
  }
  ExpectSame(kd, m);
  // Drain it.
  for (auto it = m.begin(); it != m.end();) {
    ASSERT_TRUE(kd.Erase(it->first));
    it = m.erase(it);
  }
  ExpectSame(kd, m);
  EXPECT_EQ(NodeCounts(kd).leaves, 0u);
}

TEST(KeydirTest, RandomizedAgainstStdMapNarrowAlphabet) {
  RunRandomized(NarrowKey, 20240611, 400000, 30000, false);
}

TEST(KeydirTest, RandomizedAgainstStdMapAllNodeTypes) {
  RunRandomized(WideKey, 77, 300000, 3000, true);
}

TEST(KeydirTest, LongKeys) {
  Keydir kd;
  Model m;
  const size_t kMax = Keydir::kMaxKeyLength;
  std::string a(kMax, 'a');
  std::string b = a;
  b.back() = 'b';
  std::string c = a;
  c[0] = '\0';
  std::string d(kMax - 1, 'a');  // a prefix of a and b
  std::string e = a;
  e[kMax / 2] = '\xff';
  int n = 0;
  for (const std::string* k : {&a, &b, &c, &d, &e}) {
    ++n;
    kd.Put(*k, MakeEntry(n, n % 2 == 0));
    m[*k] = MakeEntry(n, n % 2 == 0);
    ExpectSame(kd, m);
  }
  EXPECT_TRUE(Prefixed(kd, d) == Prefixed(m, d));
  EXPECT_EQ(Prefixed(kd, d).size(), 3u);
  EXPECT_TRUE(Prefixed(kd, std::string(1000, 'a')) == Prefixed(m, std::string(1000, 'a')));
  Keydir::Iterator it(&kd);
  std::string target = d + "a\x01";
  it.Seek(target);
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), b);

  // A chain: every key a prefix of the next, so the tree is 3000 levels deep.
  for (size_t len = 1; len <= 3000; ++len) {
    const std::string k(len, 'z');
    kd.Put(k, MakeEntry(len));
    m[k] = MakeEntry(len);
  }
  ExpectSame(kd, m);
  EXPECT_EQ(Prefixed(kd, std::string(2990, 'z')).size(), 11u);
  it.Seek(std::string(2000, 'z') + "a");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), std::string(2001, 'z'));

  for (const std::string* k : {&d, &a, &e, &c, &b}) {
    KeydirEntry old;
    ASSERT_TRUE(kd.Erase(*k, &old));
    EXPECT_EQ(old, m[*k]);
    m.erase(*k);
    ExpectSame(kd, m);
  }
  // Erase the chain from the middle out.
  for (size_t i = 0; i < 3000; ++i) {
    const size_t len = i % 2 ? 1500 - i / 2 : 1501 + i / 2;
    ASSERT_TRUE(kd.Erase(std::string(len, 'z'))) << len;
    m.erase(std::string(len, 'z'));
  }
  ExpectSame(kd, m);
  EXPECT_EQ(kd.size(), 0u);
}

TEST(KeydirTest, MemoryReturnsNearZero) {
  Keydir kd;
  const size_t empty = kd.MemoryUsage();
  std::mt19937_64 rng(3);
  std::vector<std::string> keys;
  for (int i = 0; i < 100000; ++i) {
    std::string k = "user:" + std::to_string(rng() % 100000000) + "/" + std::to_string(i);
    if (i % 3 == 0) k += std::string(rng() % 200, 'x');  // a spread of size classes
    keys.push_back(k);
    kd.Put(k, MakeEntry(i, i % 5 == 0));
  }
  ASSERT_EQ(kd.size(), keys.size());
  const size_t full = kd.MemoryUsage();
  EXPECT_GT(full, 100000u * 40);
  std::shuffle(keys.begin(), keys.end(), rng);
  for (size_t i = 0; i < keys.size(); ++i) {
    kd.Erase(keys[i]);
    if (i == keys.size() / 2) {
      EXPECT_EQ(Check(kd), "");
    }
  }
  EXPECT_EQ(kd.size(), 0u);
  // Every slab went back to malloc; only fixed-size bookkeeping remains.
  EXPECT_LE(kd.MemoryUsage(), empty + 4096) << "full was " << full;

  for (int i = 0; i < 100000; ++i) kd.Put(keys[i], MakeEntry(i));
  EXPECT_EQ(kd.size(), 100000u);
  kd.Clear();
  EXPECT_EQ(kd.size(), 0u);
  EXPECT_LE(kd.MemoryUsage(), empty);
  EXPECT_FALSE(kd.Get(keys[0], nullptr));
  Keydir::Iterator it(&kd);
  it.SeekToFirst();
  EXPECT_FALSE(it.Valid());
  // Usable after Clear.
  kd.Put("again", MakeEntry(1));
  EXPECT_TRUE(kd.Get("again", nullptr));
  EXPECT_EQ(Check(kd), "");
}

TEST(KeydirTest, MemoryFollowsLiveKeysAfterRandomErasures) {
  // Random erasures leave every slab partly used; Erase must compact so that
  // memory follows the live keys rather than the peak.
  Keydir kd;
  Model m;
  std::mt19937_64 rng(11);
  std::vector<std::string> keys;
  for (int i = 0; i < 150000; ++i) {
    std::string k = "k/" + std::to_string(rng()) + std::string(rng() % 40, 'v');
    if (!kd.Put(k, MakeEntry(i, i % 7 == 0))) keys.push_back(k);
    m[k] = MakeEntry(i, i % 7 == 0);
  }
  const double full_per_key = static_cast<double>(kd.MemoryUsage()) / static_cast<double>(kd.size());
  std::shuffle(keys.begin(), keys.end(), rng);
  const size_t keep = keys.size() / 10;
  for (size_t i = keep; i < keys.size(); ++i) {
    ASSERT_TRUE(kd.Erase(keys[i]));
    m.erase(keys[i]);
  }
  ExpectSame(kd, m);
  const double per_key = static_cast<double>(kd.MemoryUsage()) / static_cast<double>(kd.size());
  std::printf("[ MEMORY   ] %.1f bytes/key with 150K keys, %.1f after erasing 90%% at random\n",
              full_per_key, per_key);
  // Compaction runs when over a third of the slab bytes are free: at most
  // about 1.5 times the live bytes remain.
  EXPECT_LE(per_key, 1.6 * full_per_key);
  // Still fully usable.
  for (size_t i = keep; i < keep + 1000; ++i) {
    kd.Put(keys[i], MakeEntry(i));
    m[keys[i]] = MakeEntry(i);
  }
  ExpectSame(kd, m);
}

TEST(KeydirTest, MemoryPerKeyMillionRandom16ByteKeys) {
  Keydir kd;
  std::mt19937_64 rng(42);
  const size_t kKeys = 1000000;
  char buf[16];
  for (size_t i = 0; i < kKeys; ++i) {
    const uint64_t a = rng(), b = rng();
    std::memcpy(buf, &a, 8);
    std::memcpy(buf + 8, &b, 8);
    kd.Put(std::string_view(buf, 16), MakeEntry(i));
  }
  ASSERT_EQ(kd.size(), kKeys);  // 128 random bits: no collisions expected
  const double per_key = static_cast<double>(kd.MemoryUsage()) / static_cast<double>(kd.size());
  std::printf("[ MEMORY   ] 1M random 16-byte keys: %.2f bytes/key (budget 48 + 16 = 64)\n",
              per_key);
  EXPECT_LE(per_key, 48.0 + 16.0 + 2.0);
  const Counts c = NodeCounts(kd);
  std::printf("[ MEMORY   ] leaves %zu, Node4 %zu, Node16 %zu, Node48 %zu, Node256 %zu\n",
              c.leaves, c.n4, c.n16, c.n48, c.n256);
  // Spot-check contents.
  rng.seed(42);
  for (size_t i = 0; i < kKeys; ++i) {
    const uint64_t a = rng(), b = rng();
    if (i % 1000 != 0) continue;
    std::memcpy(buf, &a, 8);
    std::memcpy(buf + 8, &b, 8);
    KeydirEntry e;
    ASSERT_TRUE(kd.Get(std::string_view(buf, 16), &e));
    ASSERT_EQ(e, MakeEntry(i));
  }
}

}  // namespace
}  // namespace internal
}  // namespace bitgask
