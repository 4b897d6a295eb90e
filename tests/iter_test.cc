// Tests of the iteration API of bitgask::DB (engine/db_iter.cc): Keys,
// IterKeys, Iter, ScanKeys, Scan, Range, Sift, Fold and NewIterator.
//
// Checked: unsigned byte order (keys with 0x00 and 0xFF bytes, keys that are
// prefixes of each other), expired and deleted keys never appear, exact prefix
// and [start, end) filtering, ScanKeys paging, the 1024-key chunking of the
// streaming calls (incl. changing the store from inside the callback), early
// stop, snapshot semantics of the snapshot calls (overwrites, deletes, a merge
// and DeleteAll after the snapshot), Seek, compressed values and metadata.
//
// Every test runs in its own mkdtemp directory with a fake clock (an EnvWrapper
// overriding NowUnixNanos) so that expiry is exact.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bitgask/db.h"
#include "bitgask/env.h"
#include "bitgask/options.h"
#include "bitgask/status.h"
#include "test_util.h"

namespace bitgask {
namespace {

namespace fs = std::filesystem;
using test::FakeClockEnv;
using test::TempDir;
using std::chrono::nanoseconds;

constexpr int64_t kStartNs = 1700000000LL * 1000000000LL;
constexpr int64_t kSec = 1000000000LL;

// Unsigned byte-wise "a < b", written out so that the test does not rely on
// the engine's (or the library's) notion of order.
bool ByteLess(const std::string& a, const std::string& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; i++) {
    const unsigned char x = static_cast<unsigned char>(a[i]);
    const unsigned char y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y;
  }
  return a.size() < b.size();
}
struct ByteOrder {
  bool operator()(const std::string& a, const std::string& b) const { return ByteLess(a, b); }
};
using Model = std::map<std::string, std::string, ByteOrder>;

bool HasPrefix(const std::string& k, const std::string& p) {
  return k.size() >= p.size() && k.compare(0, p.size(), p) == 0;
}

std::string Hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out.empty() ? "\"\"" : out;
}

std::string HexList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); i++) out += (i ? " " : "") + Hex(v[i]);
  return out + "]";
}

std::string Compressible(size_t n, char salt) {
  std::string s;
  const std::string phrase = std::string("bitgask compressible value ") + salt + "; ";
  while (s.size() < n) s += phrase;
  s.resize(n);
  return s;
}

// Runs fn on another thread; fails the test (and aborts, since the thread may
// be stuck forever) if it has not finished within the limit.
void RunWithDeadline(const char* what, int seconds, const std::function<void()>& fn) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread t([&] {
    fn();
    std::lock_guard<std::mutex> l(mu);
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> l(mu);
  if (!cv.wait_for(l, std::chrono::seconds(seconds), [&] { return done; })) {
    fprintf(stderr, "FATAL: %s did not finish within %d s (deadlock?)\n", what, seconds);
    fflush(stderr);
    std::abort();
  }
  l.unlock();
  t.join();
}

class IterTest : public ::testing::Test {
 protected:
  IterTest() : root_(tmp_.path() + "/db") {
    options_.env = &clock_;
    options_.sync_on_put = false;
    options_.sync_on_delete = false;
    options_.merge_interval = std::chrono::milliseconds(0);
  }
  ~IterTest() override {
    if (db_) db_->Close();
  }
  void Open() {
    db_.reset();
    Status s = DB::Open(root_, options_, &db_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void Put(const std::string& k, const std::string& v) {
    Status s = db_->Put(k, v);
    ASSERT_TRUE(s.ok()) << Hex(k) << ": " << s.ToString();
    model_[k] = v;
  }
  void Del(const std::string& k) {
    Status s = db_->Delete(k);
    ASSERT_TRUE(s.ok()) << Hex(k) << ": " << s.ToString();
    model_.erase(k);
  }

  // What every call returns, as (key, value) lists.
  using KVs = std::vector<std::pair<std::string, std::string>>;
  std::vector<std::string> KeysOf(const KVs& kvs) {
    std::vector<std::string> out;
    for (const auto& kv : kvs) out.push_back(kv.first);
    return out;
  }
  std::vector<std::string> CallKeys() {
    std::vector<std::string> keys;
    Status s = db_->Keys(&keys);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return keys;
  }
  std::vector<std::string> CallIterKeys() {
    std::vector<std::string> keys;
    Status s = db_->IterKeys([&](std::string_view k) {
      keys.emplace_back(k);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return keys;
  }
  KVs CallIter(const std::string& prefix) {
    KVs out;
    Status s = db_->Iter(prefix, [&](std::string_view k, std::string_view v, const RecordMeta& m) {
      EXPECT_EQ(v.size(), m.value_size) << Hex(k);
      out.emplace_back(std::string(k), std::string(v));
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  KVs CallScan(const std::string& prefix) {
    KVs out;
    Status s = db_->Scan(prefix, [&](std::string_view k, std::string_view v) {
      out.emplace_back(std::string(k), std::string(v));
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  KVs CallRange(const std::string& start, const std::string& end) {
    KVs out;
    Status s = db_->Range(start, end, [&](std::string_view k, std::string_view v) {
      out.emplace_back(std::string(k), std::string(v));
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  KVs CallSift(const std::function<bool(std::string_view)>& pred) {
    KVs out;
    Status s = db_->Sift(pred, [&](std::string_view k, std::string_view v) {
      out.emplace_back(std::string(k), std::string(v));
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  KVs CallFold() {
    KVs out;
    Status s = db_->Fold([&](std::string_view k, std::string_view v) {
      out.emplace_back(std::string(k), std::string(v));
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  KVs CallIterator(const std::string& prefix) {
    KVs out;
    std::unique_ptr<Iterator> it;
    Status s = db_->NewIterator(prefix, &it);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) return out;
    for (; it->Valid(); it->Next()) {
      std::string v;
      Status vs = it->value(&v);
      EXPECT_TRUE(vs.ok()) << Hex(it->key()) << ": " << vs.ToString();
      EXPECT_EQ(v.size(), it->meta().value_size) << Hex(it->key());
      out.emplace_back(std::string(it->key()), v);
    }
    return out;
  }
  std::vector<std::string> CallScanKeysAll(size_t count) {
    std::vector<std::string> all;
    std::string cursor;
    for (int pages = 0; pages < 100000; pages++) {
      std::vector<std::string> page;
      std::string next;
      Status s = db_->ScanKeys(cursor, count, &page, &next);
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (!s.ok()) break;
      EXPECT_LE(page.size(), count);
      if (!next.empty()) {
        EXPECT_EQ(page.size(), count) << "a page before the end must be full";
        EXPECT_FALSE(page.empty());
        if (!page.empty()) {
          EXPECT_EQ(next, page.back());
        }
      }
      all.insert(all.end(), page.begin(), page.end());
      if (next.empty()) break;
      cursor = next;
    }
    return all;
  }

  KVs ModelKVs(const std::function<bool(const std::string&)>& keep) {
    KVs out;
    for (const auto& kv : model_) {
      if (keep(kv.first)) out.push_back(kv);
    }
    return out;
  }

  // Every API against the model.
  void CheckAllAgainstModel(const char* what) {
    SCOPED_TRACE(what);
    const KVs all = ModelKVs([](const std::string&) { return true; });
    const std::vector<std::string> all_keys = KeysOf(all);
    EXPECT_EQ(HexList(all_keys), HexList(CallKeys())) << "Keys";
    EXPECT_EQ(HexList(all_keys), HexList(CallIterKeys())) << "IterKeys";
    EXPECT_TRUE(all == CallIter("")) << "Iter(\"\")";
    EXPECT_TRUE(all == CallScan("")) << "Scan(\"\")";
    EXPECT_TRUE(all == CallFold()) << "Fold";
    EXPECT_TRUE(all == CallRange("", "")) << "Range(\"\", \"\")";
    EXPECT_TRUE(all == CallIterator("")) << "NewIterator(\"\")";
    EXPECT_TRUE(all == CallSift([](std::string_view) { return true; })) << "Sift(all)";
    for (size_t count : {1, 2, 3, 7, 64, 1000, 5000}) {
      EXPECT_EQ(HexList(all_keys), HexList(CallScanKeysAll(count))) << "ScanKeys count " << count;
    }
  }

  TempDir tmp_{"bitgask_iter_test"};
  const std::string root_;
  FakeClockEnv clock_;
  Options options_;
  std::unique_ptr<DB> db_;
  Model model_;
};

// Keys whose bytes exercise signedness (0x7F/0x80, 0x00, 0xFF) and prefixes.
std::vector<std::string> TrickyKeys() {
  using namespace std::string_literals;
  return {"a"s,          "a\0"s,       "a\0\0"s,     "a\0\x01"s,  "a\x01"s,     "a\x7f"s,
          "a\x80"s,      "a\xff"s,     "a\xff\xff"s, "a\xff\0"s,  "ab"s,        "abc"s,
          "\0"s,         "\0\0"s,      "\0\xff"s,    "\x01"s,     "\x7f"s,      "\x7f\xff"s,
          "\x80"s,       "\x80\0"s,    "\xfe"s,      "\xff"s,     "\xff\0"s,    "\xff\xff"s,
          "\xff\xff\xff"s, "b"s,       "ba"s,        "B"s,        "\xc3\xa9"s,  "z"s};
}

TEST_F(IterTest, UnsignedByteOrderAcrossAllCalls) {
  Open();
  std::vector<std::string> keys = TrickyKeys();
  // Insert in a scrambled order.
  std::mt19937 rng(7);
  std::shuffle(keys.begin(), keys.end(), rng);
  for (const std::string& k : keys) Put(k, "v-" + Hex(k));
  // The model order must be the plain unsigned order; spot-check it first.
  std::vector<std::string> sorted = KeysOf(ModelKVs([](const std::string&) { return true; }));
  ASSERT_EQ(std::string("\0", 1), sorted.front());
  ASSERT_EQ(std::string("\xff\xff\xff"), sorted.back());
  CheckAllAgainstModel("fresh");
  // Again after a reopen (the keydir rebuilt from the log).
  db_->Close();
  Open();
  CheckAllAgainstModel("after reopen");
}

TEST_F(IterTest, RandomBinaryKeysMatchModelForPrefixesAndRanges) {
  Open();
  const char alphabet[] = {'\0', '\x01', '\x7f', '\x80', '\xfe', '\xff', 'a'};
  std::mt19937 rng(12345);
  auto random_key = [&](size_t max_len) {
    std::string k;
    size_t len = 1 + rng() % max_len;
    for (size_t i = 0; i < len; i++) k.push_back(alphabet[rng() % sizeof(alphabet)]);
    return k;
  };
  for (int i = 0; i < 1500; i++) {
    std::string k = random_key(6);
    if (rng() % 5 == 0 && !model_.empty()) {
      Del(k);  // often absent: harmless
    } else {
      Put(k, "v" + std::to_string(i));
    }
  }
  ASSERT_GT(model_.size(), 500u);
  CheckAllAgainstModel("random");

  for (int q = 0; q < 150; q++) {
    const std::string prefix = random_key(3);
    SCOPED_TRACE("prefix " + Hex(prefix));
    const KVs want = ModelKVs([&](const std::string& k) { return HasPrefix(k, prefix); });
    EXPECT_TRUE(want == CallIter(prefix)) << "Iter";
    EXPECT_TRUE(want == CallScan(prefix)) << "Scan";
    EXPECT_TRUE(want == CallIterator(prefix)) << "NewIterator";
    EXPECT_TRUE(want == CallSift([&](std::string_view k) {
      return HasPrefix(std::string(k), prefix);
    })) << "Sift";
  }
  for (int q = 0; q < 150; q++) {
    const std::string start = q % 10 == 0 ? "" : random_key(3);
    const std::string end = q % 7 == 0 ? "" : random_key(3);
    SCOPED_TRACE("range [" + Hex(start) + ", " + Hex(end) + ")");
    const KVs want = ModelKVs([&](const std::string& k) {
      return !ByteLess(k, start) && (end.empty() || ByteLess(k, end));
    });
    EXPECT_TRUE(want == CallRange(start, end));
  }
}

// Long shared prefixes (longer than any inline prefix an index node keeps),
// with seek targets, prefixes and range bounds that diverge inside them.
TEST_F(IterTest, LongSharedPrefixesMatchModel) {
  Open();
  std::mt19937 rng(4242);
  const char alphabet[] = {'\0', '\x01', '\x7f', '\x80', '\xff', 'a'};
  auto rand_str = [&](size_t len) {
    std::string s;
    for (size_t i = 0; i < len; i++) s.push_back(alphabet[rng() % sizeof(alphabet)]);
    return s;
  };
  std::vector<std::string> stems;
  for (int i = 0; i < 6; i++) stems.push_back(rand_str(5 + rng() % 40));
  stems.push_back(std::string(30, '\xff'));
  stems.push_back(std::string(30, '\0'));
  for (int i = 0; i < 1200; i++) {
    const std::string& stem = stems[rng() % stems.size()];
    std::string k = stem.substr(0, rng() % (stem.size() + 1)) + rand_str(rng() % 4);
    if (k.empty()) k = "x";
    if (rng() % 6 == 0) {
      Del(k);
    } else {
      Put(k, "v" + std::to_string(i));
    }
  }
  CheckAllAgainstModel("long prefixes");
  // Query strings: cuts of existing keys, with the last byte nudged.
  std::vector<std::string> existing = KeysOf(ModelKVs([](const std::string&) { return true; }));
  auto query = [&]() {
    std::string q = existing[rng() % existing.size()];
    q.resize(rng() % (q.size() + 1));
    if (!q.empty() && rng() % 3 == 0) {
      unsigned char c = static_cast<unsigned char>(q.back());
      q.back() = static_cast<char>(rng() % 2 ? c + 1 : c - 1);
    }
    if (rng() % 4 == 0) q += rand_str(1 + rng() % 3);
    return q;
  };
  std::unique_ptr<Iterator> it;
  ASSERT_TRUE(db_->NewIterator("", &it).ok());
  for (int t = 0; t < 400; t++) {
    const std::string p = query();
    SCOPED_TRACE("query " + Hex(p));
    const KVs want = ModelKVs([&](const std::string& k) { return HasPrefix(k, p); });
    EXPECT_TRUE(want == CallScan(p)) << "Scan";
    EXPECT_TRUE(want == CallIter(p)) << "Iter";
    const std::string e = query();
    const KVs want_range = ModelKVs([&](const std::string& k) {
      return !ByteLess(k, p) && (e.empty() || ByteLess(k, e));
    });
    EXPECT_TRUE(want_range == CallRange(p, e)) << "Range to " << Hex(e);
    it->Seek(p);
    auto lb = std::find_if(model_.begin(), model_.end(),
                           [&](const auto& kv) { return !ByteLess(kv.first, p); });
    if (lb == model_.end()) {
      EXPECT_FALSE(it->Valid()) << "Seek";
    } else {
      ASSERT_TRUE(it->Valid()) << "Seek";
      EXPECT_EQ(Hex(lb->first), Hex(it->key())) << "Seek";
    }
    // ScanKeys from a cursor that is not necessarily a key.
    std::vector<std::string> page;
    std::string next;
    ASSERT_TRUE(db_->ScanKeys(p, 5, &page, &next).ok());
    std::vector<std::string> want_page;
    for (auto i = model_.upper_bound(p); i != model_.end() && want_page.size() < 5; ++i) {
      want_page.push_back(i->first);
    }
    if (!p.empty()) {
      EXPECT_EQ(HexList(want_page), HexList(page)) << "ScanKeys";
    }
  }
}

TEST_F(IterTest, PrefixFilteringIsExact) {
  Open();
  for (const std::string& k : TrickyKeys()) Put(k, "v-" + Hex(k));
  using namespace std::string_literals;
  // prefix -> exactly the expected keys, in order.
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"a"s, {"a"s, "a\0"s, "a\0\0"s, "a\0\x01"s, "a\x01"s, "ab"s, "abc"s, "a\x7f"s, "a\x80"s,
              "a\xff"s, "a\xff\0"s, "a\xff\xff"s}},
      {"a\0"s, {"a\0"s, "a\0\0"s, "a\0\x01"s}},
      {"a\xff"s, {"a\xff"s, "a\xff\0"s, "a\xff\xff"s}},
      {"\0"s, {"\0"s, "\0\0"s, "\0\xff"s}},
      {"\xff"s, {"\xff"s, "\xff\0"s, "\xff\xff"s, "\xff\xff\xff"s}},
      {"\xff\xff"s, {"\xff\xff"s, "\xff\xff\xff"s}},
      {"\x7f"s, {"\x7f"s, "\x7f\xff"s}},
      {"\x80"s, {"\x80"s, "\x80\0"s}},
      {"abc"s, {"abc"s}},
      {"abcd"s, {}},
      {"c"s, {}},
      {"\xfe\xff"s, {}},
      {"A"s, {}},
  };
  for (const auto& [prefix, want] : cases) {
    SCOPED_TRACE("prefix " + Hex(prefix));
    EXPECT_EQ(HexList(want), HexList(KeysOf(CallIter(prefix)))) << "Iter";
    EXPECT_EQ(HexList(want), HexList(KeysOf(CallScan(prefix)))) << "Scan";
    EXPECT_EQ(HexList(want), HexList(KeysOf(CallIterator(prefix)))) << "NewIterator";
    for (const auto& kv : CallScan(prefix)) EXPECT_EQ("v-" + Hex(kv.first), kv.second);
  }
}

TEST_F(IterTest, RangeBounds) {
  Open();
  for (const std::string& k : TrickyKeys()) Put(k, "v-" + Hex(k));
  using namespace std::string_literals;
  auto range_keys = [&](const std::string& s, const std::string& e) {
    return HexList(KeysOf(CallRange(s, e)));
  };
  // Half-open: start included, end excluded.
  EXPECT_EQ(HexList({"a"s, "a\0"s, "a\0\0"s, "a\0\x01"s}), range_keys("a", "a\x01"));
  // 'b' (0x62) sorts below 0x7f, 0x80 and 0xff.
  EXPECT_EQ(HexList({"a\x01"s, "ab"s, "abc"s}), range_keys("a\x01", "a\x7f"));
  EXPECT_EQ(HexList({"ab"s, "abc"s, "a\x7f"s, "a\x80"s, "a\xff"s, "a\xff\0"s, "a\xff\xff"s, "b"s,
                     "ba"s}),
            range_keys("ab", "c"));
  EXPECT_EQ(HexList({"a\x80"s, "a\xff"s, "a\xff\0"s, "a\xff\xff"s}), range_keys("a\x80", "b"));
  // Start between keys.
  EXPECT_EQ(HexList({"a\0\x01"s, "a\x01"s}), range_keys("a\0\0\0"s, "a\x02"s));
  // Empty end: no upper bound.
  EXPECT_EQ(HexList({"\xff"s, "\xff\0"s, "\xff\xff"s, "\xff\xff\xff"s}), range_keys("\xff", ""));
  EXPECT_EQ(HexList({"\xff\xff\xff"s}), range_keys("\xff\xff\x01"s, ""));
  // end <= start, start == end, beyond everything: nothing.
  EXPECT_EQ(HexList({}), range_keys("b", "a"));
  EXPECT_EQ(HexList({}), range_keys("ab", "ab"));
  EXPECT_EQ(HexList({}), range_keys("\xff\xff\xff\xff", ""));
  // Empty start: from the first key.
  EXPECT_EQ(HexList({"\0"s, "\0\0"s, "\0\xff"s}), range_keys("", "\x01"));
  // The 0x80 boundary (signed char would put it first).
  EXPECT_EQ(HexList({"\x7f"s, "\x7f\xff"s, "\x80"s, "\x80\0"s}), range_keys("\x7f", "\x80\x01"));
  // Values come with the keys.
  for (const auto& kv : CallRange("a", "b")) EXPECT_EQ("v-" + Hex(kv.first), kv.second);
}

TEST_F(IterTest, ExpiredAndDeletedKeysNeverAppear) {
  Open();
  for (int i = 0; i < 40; i++) Put("key" + std::to_string(100 + i), "v" + std::to_string(i));
  // TTL keys: some expire, some do not.
  for (int i = 0; i < 10; i++) {
    std::string k = "key" + std::to_string(100 + i);
    ASSERT_TRUE(db_->PutWithTTL(k, "ttl" + std::to_string(i), nanoseconds(10 * kSec)).ok());
    model_[k] = "ttl" + std::to_string(i);
  }
  ASSERT_TRUE(db_->PutWithTTL("key500", "long", nanoseconds(1000 * kSec)).ok());
  model_["key500"] = "long";
  // ExpireAt exactly now+10s: expired at that instant (expires <= now).
  ASSERT_TRUE(db_->ExpireAt("key120", clock_.Now() + 10 * kSec).ok());
  for (int i = 30; i < 40; i++) Del("key" + std::to_string(100 + i));
  // Deleted, then re-put: present.
  Put("key135", "back");
  CheckAllAgainstModel("before expiry");

  clock_.Advance(10 * kSec);  // key100..key109 and key120 expire now
  for (int i = 0; i < 10; i++) model_.erase("key" + std::to_string(100 + i));
  model_.erase("key120");
  CheckAllAgainstModel("after expiry");
  EXPECT_TRUE(CallIter("key10").empty());
  EXPECT_TRUE(CallScan("key10").empty());
  EXPECT_TRUE(CallRange("key100", "key110").empty());
  EXPECT_TRUE(CallIterator("key12").size() == 9u);  // key121..key129

  db_->Close();
  Open();
  CheckAllAgainstModel("after reopen");
}

TEST_F(IterTest, ScanKeysPagingVisitsEveryKeyOnce) {
  Open();
  for (int i = 0; i < 2600; i++) {
    char k[16];
    std::snprintf(k, sizeof(k), "p%05d", (i * 7919) % 2600);
    Put(k, "x");
  }
  const std::vector<std::string> want = KeysOf(ModelKVs([](const std::string&) { return true; }));
  ASSERT_EQ(2600u, want.size());
  for (size_t count : {1, 2, 3, 10, 999, 1023, 1024, 1025, 2599, 2600, 2601, 100000}) {
    SCOPED_TRACE("count " + std::to_string(count));
    std::vector<std::string> got;
    std::string cursor;
    size_t pages = 0;
    for (;;) {
      std::vector<std::string> page;
      std::string next = "garbage";
      ASSERT_TRUE(db_->ScanKeys(cursor, count, &page, &next).ok());
      pages++;
      ASSERT_LE(page.size(), count);
      got.insert(got.end(), page.begin(), page.end());
      if (next.empty()) break;
      ASSERT_EQ(count, page.size());
      ASSERT_EQ(page.back(), next);
      cursor = next;
      ASSERT_LT(pages, 10000u);
    }
    EXPECT_EQ(want, got);
    EXPECT_EQ((want.size() + count - 1) / count, pages);
  }
  // A cursor that is not a key: resumes after it. Past the end: nothing.
  std::vector<std::string> page;
  std::string next;
  ASSERT_TRUE(db_->ScanKeys("p00010a", 3, &page, &next).ok());
  EXPECT_EQ((std::vector<std::string>{"p00011", "p00012", "p00013"}), page);
  EXPECT_EQ("p00013", next);
  ASSERT_TRUE(db_->ScanKeys("p02599", 3, &page, &next).ok());
  EXPECT_TRUE(page.empty());
  EXPECT_EQ("", next);
  ASSERT_TRUE(db_->ScanKeys("q", 3, &page, &next).ok());
  EXPECT_TRUE(page.empty());
  EXPECT_EQ("", next);
  // count 0 is refused.
  EXPECT_TRUE(db_->ScanKeys("", 0, &page, &next).IsInvalidArgument());
}

TEST_F(IterTest, ScanKeysSkipsExpiredAndDeletedAcrossPages) {
  Open();
  for (int i = 0; i < 300; i++) {
    char k[16];
    std::snprintf(k, sizeof(k), "s%04d", i);
    if (i % 3 == 0) {
      ASSERT_TRUE(db_->PutWithTTL(k, "t", nanoseconds(5 * kSec)).ok());
    } else {
      Put(k, "x");
    }
    if (i % 5 == 0) Del(k);
  }
  clock_.Advance(5 * kSec);
  for (int i = 0; i < 300; i += 3) {
    char k[16];
    std::snprintf(k, sizeof(k), "s%04d", i);
    model_.erase(k);
  }
  const std::vector<std::string> want = KeysOf(ModelKVs([](const std::string&) { return true; }));
  for (size_t count : {1, 4, 17, 160, 1000}) {
    EXPECT_EQ(want, CallScanKeysAll(count)) << count;
  }
}

TEST_F(IterTest, StreamingWalkOverChunkBoundaries) {
  Open();
  const int n = 3500;  // > 3 chunks of 1024
  for (int i = 0; i < n; i++) {
    char k[16];
    std::snprintf(k, sizeof(k), "c%05d", i);
    Put(k, std::string(1 + i % 17, static_cast<char>('a' + i % 26)));
  }
  // Exactly 1024 and 2048 keys under a prefix: boundaries exactly at the chunk size.
  for (int i = 0; i < 2048; i++) {
    char k[16];
    std::snprintf(k, sizeof(k), "e%05d", i);
    Put(k, "e");
  }
  CheckAllAgainstModel("big");
  const KVs e = CallIter("e");
  EXPECT_EQ(2048u, e.size());
  const KVs e0 = CallIter("e00");  // e00000..e00999
  EXPECT_EQ(1000u, e0.size());
  for (int stop : {1, 1023, 1024, 1025, 2048, 3000}) {
    int calls = 0;
    ASSERT_TRUE(db_->IterKeys([&](std::string_view) { return ++calls < stop; }).ok());
    EXPECT_EQ(stop, calls) << "IterKeys must stop at the first false";
    calls = 0;
    ASSERT_TRUE(db_->Iter("", [&](std::string_view, std::string_view, const RecordMeta&) {
      return ++calls < stop;
    }).ok());
    EXPECT_EQ(stop, calls) << "Iter must stop at the first false";
  }
}

TEST_F(IterTest, IterKeysCallbackMayWriteWithoutDeadlockAndVisitsEachKeyOnce) {
  Open();
  const int n = 3000;
  auto name = [](int i) {
    char k[16];
    std::snprintf(k, sizeof(k), "k%05d", i);
    return std::string(k);
  };
  for (int i = 0; i < n; i++) Put(name(i), "v");
  std::vector<std::string> visited;
  std::set<std::string> deleted_before_start;
  RunWithDeadline("IterKeys with writes in the callback", 60, [&] {
    Status s = db_->IterKeys([&](std::string_view key) {
      visited.emplace_back(key);
      const int i = std::stoi(std::string(key.substr(1, 5)));
      // Delete a key far ahead (in a later chunk), add keys ahead and behind,
      // overwrite the current key and delete the current key's successor.
      Status w;
      if (i % 2 == 0 && i + 1500 < n) {
        w = db_->Delete(name(i + 1500));
        EXPECT_TRUE(w.ok()) << w.ToString();
      }
      if (key.size() == 6) {
        w = db_->Put(std::string(key) + "+new", "added");  // just after the key
        EXPECT_TRUE(w.ok()) << w.ToString();
        w = db_->Put("a-before-" + std::string(key), "behind");  // before everything
        EXPECT_TRUE(w.ok()) << w.ToString();
        w = db_->Put(key, "overwritten");
        EXPECT_TRUE(w.ok()) << w.ToString();
      }
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  // Each key at most once, strictly ascending.
  for (size_t i = 1; i < visited.size(); i++) {
    ASSERT_TRUE(ByteLess(visited[i - 1], visited[i]))
        << "order/duplicate at " << i << ": " << visited[i - 1] << " then " << visited[i];
  }
  std::set<std::string> seen(visited.begin(), visited.end());
  // Every original key that was never deleted was visited.
  for (int i = 0; i < n; i++) {
    const bool deleted = i >= 1500 && (i - 1500) % 2 == 0;
    if (!deleted) {
      EXPECT_TRUE(seen.count(name(i))) << name(i) << " was not visited";
    }
  }
  // Keys added behind the walk are never visited.
  for (const std::string& k : visited) {
    EXPECT_NE(0u, k.rfind("a-before-", 0)) << k << " was added behind the walk";
  }
  // A key deleted in an earlier chunk (i+1500 deleted while at i < 1500 - 1024)
  // is not visited: it was gone before its chunk was read.
  for (int i = 0; i < 400; i += 2) {
    EXPECT_FALSE(seen.count(name(i + 1500))) << name(i + 1500) << " was deleted long before";
  }
  // The store is usable and consistent afterwards.
  std::string v;
  ASSERT_TRUE(db_->Get(name(1), &v).ok());
  EXPECT_EQ("overwritten", v);
  EXPECT_TRUE(db_->Get(name(1500), &v).IsNotFound());
}

TEST_F(IterTest, IterCallbackMayWriteAndReadWithoutDeadlock) {
  Open();
  for (int i = 0; i < 2500; i++) {
    char k[16];
    std::snprintf(k, sizeof(k), "i%05d", i);
    Put(k, "orig" + std::to_string(i));
  }
  size_t calls = 0;
  std::set<std::string> seen;
  RunWithDeadline("Iter with writes in the callback", 60, [&] {
    Status s = db_->Iter("i", [&](std::string_view k, std::string_view v, const RecordMeta&) {
      calls++;
      EXPECT_TRUE(seen.insert(std::string(k)).second) << "twice: " << k;
      EXPECT_EQ(0u, v.rfind("orig", 0)) << k << " " << v;
      std::string key(k), got;
      EXPECT_TRUE(db_->Put(key, "new").ok());
      EXPECT_TRUE(db_->Get(key, &got).ok());
      EXPECT_EQ("new", got);
      std::vector<std::string> page;
      std::string next;
      EXPECT_TRUE(db_->ScanKeys(key, 2, &page, &next).ok());
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  EXPECT_EQ(2500u, calls);
  // Snapshot calls from a callback of a streaming call, too.
  RunWithDeadline("Scan inside IterKeys", 60, [&] {
    int outer = 0;
    Status s = db_->IterKeys([&](std::string_view) {
      size_t inner = 0;
      Status in = db_->Scan("i0000", [&](std::string_view, std::string_view) {
        inner++;
        return true;
      });
      EXPECT_TRUE(in.ok());
      EXPECT_EQ(10u, inner);
      return ++outer < 5;
    });
    EXPECT_TRUE(s.ok());
  });
}

// Walks while other threads write and merge: order strictly ascending, each key
// at most once, every untouched key exactly once with its value, and every
// value seen belongs to its key.
TEST_F(IterTest, WalksDuringConcurrentWritesAndMerges) {
  options_.max_data_file_size = 64 << 10;
  Open();
  auto stable = [](int i) {
    char k[16];
    std::snprintf(k, sizeof(k), "k%05d", i * 2);
    return std::string(k);
  };
  auto churn = [](int i) {
    char k[16];
    std::snprintf(k, sizeof(k), "k%05d", i * 2 + 1);
    return std::string(k);
  };
  const int n = 2500;
  for (int i = 0; i < n; i++) {
    Put(stable(i), "stable-" + stable(i));
    Put(churn(i), "churn-" + churn(i) + "-0");
  }
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    std::mt19937 rng(99);
    for (int round = 1; !stop; round++) {
      const std::string k = churn(static_cast<int>(rng() % n));
      Status s = rng() % 3 == 0 ? db_->Delete(k)
                                : db_->Put(k, "churn-" + k + "-" + std::to_string(round));
      if (!s.ok()) failures++;
    }
  });
  std::thread merger([&] {
    while (!stop) {
      MergeOptions mo;
      mo.force = true;
      MergeResult mr;
      if (!db_->Merge(mo, &mr).ok()) failures++;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  auto check_value = [&](std::string_view k, std::string_view v) {
    const std::string key(k);
    const int idx = std::stoi(key.substr(1));
    if (idx % 2 == 0) {
      EXPECT_EQ("stable-" + key, v);
    } else {
      EXPECT_EQ(0u, v.rfind("churn-" + key + "-", 0)) << key << " has " << v;
    }
  };
  auto check_walk = [&](const std::vector<std::string>& keys, const char* what) {
    for (size_t i = 1; i < keys.size(); i++) {
      ASSERT_TRUE(ByteLess(keys[i - 1], keys[i])) << what << ": " << keys[i - 1] << " then "
                                                  << keys[i];
    }
    std::set<std::string> seen(keys.begin(), keys.end());
    int missing = 0;
    for (int i = 0; i < n; i++) missing += seen.count(stable(i)) ? 0 : 1;
    EXPECT_EQ(0, missing) << what << ": stable keys not visited";
  };
  RunWithDeadline("walks during writes", 60, [&] {
    for (int rep = 0; rep < 6; rep++) {
      std::vector<std::string> keys;
      ASSERT_TRUE(db_->IterKeys([&](std::string_view k) {
        keys.emplace_back(k);
        return true;
      }).ok());
      check_walk(keys, "IterKeys");
      keys.clear();
      Status s = db_->Iter("k", [&](std::string_view k, std::string_view v, const RecordMeta& m) {
        keys.emplace_back(k);
        EXPECT_EQ(v.size(), m.value_size);
        check_value(k, v);
        return true;
      });
      ASSERT_TRUE(s.ok()) << s.ToString();
      check_walk(keys, "Iter");
      keys.clear();
      std::string cursor;
      do {
        std::vector<std::string> page;
        std::string next;
        ASSERT_TRUE(db_->ScanKeys(cursor, 97, &page, &next).ok());
        keys.insert(keys.end(), page.begin(), page.end());
        cursor = next;
      } while (!cursor.empty());
      check_walk(keys, "ScanKeys");
      keys.clear();
      std::unique_ptr<Iterator> it;
      ASSERT_TRUE(db_->NewIterator("", &it).ok());
      for (; it->Valid(); it->Next()) {
        std::string v;
        s = it->value(&v);
        ASSERT_TRUE(s.ok()) << it->key() << ": " << s.ToString();
        check_value(it->key(), v);
        keys.emplace_back(it->key());
      }
      check_walk(keys, "NewIterator");
      keys.clear();
      s = db_->Scan("", [&](std::string_view k, std::string_view v) {
        check_value(k, v);
        keys.emplace_back(k);
        return true;
      });
      ASSERT_TRUE(s.ok()) << s.ToString();
      check_walk(keys, "Scan");
    }
  });
  stop = true;
  writer.join();
  merger.join();
  EXPECT_EQ(0, failures.load());
}

TEST_F(IterTest, EarlyStopForEveryCall) {
  Open();
  for (int i = 0; i < 50; i++) {
    char k[16];
    std::snprintf(k, sizeof(k), "x%03d", i);
    Put(k, "v");
  }
  for (int stop : {1, 2, 49, 50}) {
    int calls = 0;
    auto kv = [&](std::string_view, std::string_view) { return ++calls < stop; };
    ASSERT_TRUE(db_->Scan("x", kv).ok());
    EXPECT_EQ(stop, calls) << "Scan";
    calls = 0;
    ASSERT_TRUE(db_->Range("x", "", kv).ok());
    EXPECT_EQ(stop, calls) << "Range";
    calls = 0;
    ASSERT_TRUE(db_->Sift([](std::string_view) { return true; }, kv).ok());
    EXPECT_EQ(stop, calls) << "Sift";
    calls = 0;
    ASSERT_TRUE(db_->Fold(kv).ok());
    EXPECT_EQ(stop, calls) << "Fold";
    calls = 0;
    ASSERT_TRUE(db_->Iter("x", [&](std::string_view, std::string_view, const RecordMeta&) {
      return ++calls < stop;
    }).ok());
    EXPECT_EQ(stop, calls) << "Iter";
    calls = 0;
    ASSERT_TRUE(db_->IterKeys([&](std::string_view) { return ++calls < stop; }).ok());
    EXPECT_EQ(stop, calls) << "IterKeys";
  }
}

TEST_F(IterTest, SiftSelectsByPredicate) {
  Open();
  for (int i = 0; i < 300; i++) Put("s" + std::to_string(i), "val" + std::to_string(i));
  auto pred = [](std::string_view k) { return k.size() == 3 && k.back() == '7'; };
  const KVs want = ModelKVs([&](const std::string& k) { return pred(k); });
  ASSERT_EQ(9u, want.size());  // s17, s27, ..., s97
  EXPECT_TRUE(want == CallSift(pred));
  EXPECT_TRUE(CallSift([](std::string_view) { return false; }).empty());
  // The predicate sees every live key once, in order.
  std::vector<std::string> asked;
  ASSERT_TRUE(db_->Sift([&](std::string_view k) {
    asked.emplace_back(k);
    return false;
  }, [](std::string_view, std::string_view) { return true; }).ok());
  EXPECT_EQ(KeysOf(ModelKVs([](const std::string&) { return true; })), asked);
}

TEST_F(IterTest, SnapshotCallsSeeTheStateAtTheCall) {
  Open();
  for (int i = 0; i < 30; i++) Put("snap" + std::to_string(100 + i), "old" + std::to_string(i));
  const KVs before = ModelKVs([](const std::string&) { return true; });

  // NewIterator: later overwrites, deletes and inserts are invisible.
  std::unique_ptr<Iterator> it;
  ASSERT_TRUE(db_->NewIterator("", &it).ok());
  for (int i = 0; i < 30; i += 2) Put("snap" + std::to_string(100 + i), "NEW");
  for (int i = 1; i < 30; i += 4) Del("snap" + std::to_string(100 + i));
  Put("snap099", "inserted");
  Put("snap1000", "inserted");
  KVs got;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string v;
    ASSERT_TRUE(it->value(&v).ok()) << it->key();
    got.emplace_back(std::string(it->key()), v);
  }
  EXPECT_TRUE(before == got) << "iterator saw changes made after it was created";
  it.reset();

  // Scan: changes made from inside the callback to keys not yet visited are
  // not seen (values of the snapshot).
  const KVs at_call = ModelKVs([](const std::string&) { return true; });
  KVs scanned;
  ASSERT_TRUE(db_->Scan("snap", [&](std::string_view k, std::string_view v) {
    scanned.emplace_back(std::string(k), std::string(v));
    if (scanned.size() == 1) {
      for (const auto& kv : at_call) {
        EXPECT_TRUE(db_->Put(kv.first, "CHANGED").ok());
      }
      for (size_t i = 5; i < at_call.size(); i += 5) {
        EXPECT_TRUE(db_->Delete(at_call[i].first).ok());
      }
      EXPECT_TRUE(db_->Put("snap0", "late").ok());
      EXPECT_TRUE(db_->Put("snap9", "late").ok());
    }
    return true;
  }).ok());
  EXPECT_TRUE(at_call == scanned) << "Scan saw changes made after the call";

  // Range and Fold likewise.
  for (const auto& kv : at_call) model_[kv.first] = "CHANGED";
  for (size_t i = 5; i < at_call.size(); i += 5) model_.erase(at_call[i].first);
  model_["snap0"] = "late";
  model_["snap9"] = "late";
  const KVs now = ModelKVs([](const std::string&) { return true; });
  KVs folded;
  ASSERT_TRUE(db_->Fold([&](std::string_view k, std::string_view v) {
    folded.emplace_back(std::string(k), std::string(v));
    if (folded.size() == 1) {
      for (const auto& kv : now) EXPECT_TRUE(db_->Delete(kv.first).ok());
    }
    return true;
  }).ok());
  EXPECT_TRUE(now == folded) << "Fold saw deletes made after the call";
  std::vector<std::string> keys;
  ASSERT_TRUE(db_->Keys(&keys).ok());
  EXPECT_TRUE(keys.empty());
}

TEST_F(IterTest, IteratorSnapshotSurvivesMergeAndDeleteAll) {
  options_.max_data_file_size = 4096;
  Open();
  for (int i = 0; i < 200; i++) {
    char k[16];
    std::snprintf(k, sizeof(k), "m%04d", i);
    Put(k, std::string(40, static_cast<char>('a' + i % 26)) + std::to_string(i));
  }
  const KVs before = ModelKVs([](const std::string&) { return true; });
  std::unique_ptr<Iterator> it1, it2;
  ASSERT_TRUE(db_->NewIterator("m", &it1).ok());
  ASSERT_TRUE(db_->NewIterator("m00", &it2).ok());
  // Overwrite everything and merge: the files the snapshot needs are removed.
  for (const auto& kv : before) ASSERT_TRUE(db_->Put(kv.first, "over").ok());
  MergeOptions mo;
  mo.force = true;
  MergeResult mr;
  Status s = db_->Merge(mo, &mr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  KVs got;
  for (; it1->Valid(); it1->Next()) {
    std::string v;
    Status vs = it1->value(&v);
    ASSERT_TRUE(vs.ok()) << it1->key() << ": " << vs.ToString();
    got.emplace_back(std::string(it1->key()), v);
  }
  EXPECT_TRUE(before == got) << "snapshot values lost after merge";
  // DeleteAll removes every data file; the snapshot still reads its values.
  ASSERT_TRUE(db_->DeleteAll().ok());
  size_t n = 0;
  for (it2->SeekToFirst(); it2->Valid(); it2->Next(), n++) {
    std::string v;
    Status vs = it2->value(&v);
    ASSERT_TRUE(vs.ok()) << it2->key() << ": " << vs.ToString();
    EXPECT_EQ(model_.at(std::string(it2->key())), v);
  }
  EXPECT_EQ(100u, n);
  std::vector<std::string> keys;
  ASSERT_TRUE(db_->Keys(&keys).ok());
  EXPECT_TRUE(keys.empty());
}

TEST_F(IterTest, IteratorSeek) {
  Open();
  using namespace std::string_literals;
  for (const std::string& k : TrickyKeys()) Put(k, "v-" + Hex(k));
  std::unique_ptr<Iterator> it;
  ASSERT_TRUE(db_->NewIterator("", &it).ok());
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ("\0"s, it->key());
  auto seek = [&](const std::string& target) {
    it->Seek(target);
    return it->Valid() ? Hex(it->key()) : std::string("<end>");
  };
  EXPECT_EQ(Hex("a"), seek("a"));               // exact
  EXPECT_EQ(Hex("a\0"s), seek("a\0"s));         // exact, with NUL
  EXPECT_EQ(Hex("a\0\x01"s), seek("a\0\0\0"s)); // between
  EXPECT_EQ(Hex("a\x80"s), seek("a\x7f\x01"s)); // across the 0x7f/0x80 boundary
  EXPECT_EQ(Hex("b"), seek("a\xff\xff\x01"s));  // 'b' > "a\xff..."
  EXPECT_EQ(Hex("a\x7f"s), seek("abd"));
  EXPECT_EQ(Hex("\0"s), seek(""));              // before everything
  EXPECT_EQ(Hex("\0"s), seek("\0"s));
  EXPECT_EQ("<end>", seek("\xff\xff\xff\0"s));  // after everything
  EXPECT_EQ(Hex("\xff\xff\xff"s), seek("\xff\xff\xff"s));
  // Seek backwards works too, and Next continues from the new position.
  it->Seek("b");
  ASSERT_TRUE(it->Valid());
  it->Next();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ("ba", it->key());
  std::string v;
  ASSERT_TRUE(it->value(&v).ok());
  EXPECT_EQ("v-" + Hex("ba"), v);
  it->SeekToFirst();
  EXPECT_EQ("\0"s, it->key());

  // Within a prefix iterator.
  ASSERT_TRUE(db_->NewIterator("a\xff"s, &it).ok());
  EXPECT_EQ(Hex("a\xff"s), seek(""));
  EXPECT_EQ(Hex("a\xff"s), seek("a"));          // below the prefix: its first key
  EXPECT_EQ(Hex("a\xff\xff"s), seek("a\xff\x01"s));
  EXPECT_EQ("<end>", seek("a\xff\xff\x01"s));
  EXPECT_EQ("<end>", seek("b"));                // above the prefix
  // An iterator over nothing.
  ASSERT_TRUE(db_->NewIterator("nope", &it).ok());
  EXPECT_FALSE(it->Valid());
  it->Seek("");
  EXPECT_FALSE(it->Valid());
}

TEST_F(IterTest, CompressedValuesAndMetaThroughEveryCall) {
  options_.compression_threshold = 64;
  Open();
  // Values below, at and above the threshold; compressible and not.
  std::mt19937 rng(3);
  std::string random(5000, '\0');
  for (auto& c : random) c = static_cast<char>(rng());
  Put("c1", Compressible(63, '1'));
  Put("c2", Compressible(64, '2'));
  Put("c3", Compressible(100000, '3'));
  Put("c4", random);
  Put("c5", "");
  Put("c6", std::string(300, '\0'));
  WriteOptions wo;
  wo.mode = 0100644;
  wo.timestamp_unix_ns = 1234567890123LL;
  wo.ttl = nanoseconds(77 * kSec);
  std::string big = Compressible(4096, '7');
  ASSERT_TRUE(db_->Put(wo, "c7", big).ok());
  model_["c7"] = big;

  const KVs want = ModelKVs([](const std::string&) { return true; });
  EXPECT_TRUE(want == CallIter("c"));
  EXPECT_TRUE(want == CallScan("c"));
  EXPECT_TRUE(want == CallIterator("c"));
  EXPECT_TRUE(want == CallFold());
  EXPECT_TRUE(want == CallRange("c1", "c8"));

  // Iter's and the iterator's meta fields.
  std::map<std::string, RecordMeta> metas;
  ASSERT_TRUE(db_->Iter("c", [&](std::string_view k, std::string_view v, const RecordMeta& m) {
    metas[std::string(k)] = m;
    EXPECT_EQ(v.size(), m.value_size);
    return true;
  }).ok());
  ASSERT_EQ(7u, metas.size());
  EXPECT_EQ(100000u, metas["c3"].value_size);
  EXPECT_EQ(kStartNs, metas["c3"].timestamp_unix_ns);
  EXPECT_EQ(0, metas["c3"].expires_unix_ns);
  EXPECT_EQ(0, metas["c3"].mode);
  EXPECT_EQ(4096u, metas["c7"].value_size);
  EXPECT_EQ(1234567890123LL, metas["c7"].timestamp_unix_ns);
  EXPECT_EQ(kStartNs + 77 * kSec, metas["c7"].expires_unix_ns);
  EXPECT_EQ(0100644, metas["c7"].mode);
  std::unique_ptr<Iterator> it;
  ASSERT_TRUE(db_->NewIterator("c7", &it).ok());
  ASSERT_TRUE(it->Valid());
  RecordMeta m = it->meta();
  EXPECT_EQ(4096u, m.value_size);
  EXPECT_EQ(1234567890123LL, m.timestamp_unix_ns);
  EXPECT_EQ(kStartNs + 77 * kSec, m.expires_unix_ns);
  EXPECT_EQ(0100644, m.mode);
  // A metadata-only change shows in Iter's meta.
  ASSERT_TRUE(db_->SetMeta("c7", 0100600, 42).ok());
  ASSERT_TRUE(db_->Persist("c7").ok());
  ASSERT_TRUE(db_->Iter("c7", [&](std::string_view, std::string_view v, const RecordMeta& mm) {
    EXPECT_EQ(big, v);
    EXPECT_EQ(0100600, mm.mode);
    EXPECT_EQ(42, mm.timestamp_unix_ns);
    EXPECT_EQ(0, mm.expires_unix_ns);
    return true;
  }).ok());
  // Values are still right after reopen (read back from the log).
  db_->Close();
  Open();
  EXPECT_TRUE(want == CallIterator("c"));
  EXPECT_TRUE(want == CallIter("c"));
}

TEST_F(IterTest, EmptyStoreAndClosedStore) {
  Open();
  EXPECT_TRUE(CallKeys().empty());
  EXPECT_TRUE(CallIterKeys().empty());
  EXPECT_TRUE(CallIter("").empty());
  EXPECT_TRUE(CallScan("").empty());
  EXPECT_TRUE(CallFold().empty());
  EXPECT_TRUE(CallIterator("").empty());
  EXPECT_TRUE(CallScanKeysAll(5).empty());
  ASSERT_TRUE(db_->Close().ok());
  std::vector<std::string> keys;
  std::string next;
  auto kv = [](std::string_view, std::string_view) { return true; };
  EXPECT_TRUE(db_->Keys(&keys).IsClosed());
  EXPECT_TRUE(db_->IterKeys([](std::string_view) { return true; }).IsClosed());
  EXPECT_TRUE(db_->Scan("", kv).IsClosed());
  EXPECT_TRUE(db_->Range("", "", kv).IsClosed());
  EXPECT_TRUE(db_->Fold(kv).IsClosed());
  EXPECT_TRUE(db_->ScanKeys("", 3, &keys, &next).IsClosed());
  std::unique_ptr<Iterator> it;
  EXPECT_TRUE(db_->NewIterator("", &it).IsClosed());
}

}  // namespace
}  // namespace bitgask
