// Owners kept with keys (WriteOptions::owner, SetMeta's owner, the record's
// owner block): every way a key is written, copied, reopened and merged must
// keep its owner and value exactly, and keys without one stay without one.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "bitgask/db.h"
#include "keydir.h"
#include "test_util.h"

namespace bitgask {
namespace {

using test::TempDir;

std::string Bytes(size_t n, uint32_t seed) {  // incompressible
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

struct Want {
  std::string key;
  std::string value;
  std::optional<Owner> owner;
  uint16_t mode;
};

class OwnerTest : public ::testing::Test {
 protected:
  OwnerTest() : root_(tmp_.path() + "/db") { options_.max_data_file_size = 1 << 20; }
  ~OwnerTest() override {
    if (db_) db_->Close();
  }
  void Open() {
    db_.reset();
    Status s = DB::Open(root_, options_, &db_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void Reopen() {
    ASSERT_TRUE(db_->Close().ok());
    Open();
  }
  void Check(const std::vector<Want>& want, const char* when) {
    SCOPED_TRACE(when);
    for (const Want& w : want) {
      SCOPED_TRACE(w.key);
      RecordMeta m;
      ASSERT_TRUE(db_->Meta(w.key, &m).ok());
      EXPECT_EQ(m.owner.has_value(), w.owner.has_value());
      if (m.owner && w.owner) {
        EXPECT_EQ(m.owner->uid, w.owner->uid);
        EXPECT_EQ(m.owner->gid, w.owner->gid);
      }
      EXPECT_EQ(m.mode, w.mode);
      EXPECT_EQ(m.value_size, w.value.size());
      std::string v;
      ASSERT_TRUE(db_->Get(w.key, &v).ok());
      EXPECT_TRUE(v == w.value) << "value differs";
      // A range from the middle: with block checksums it is read in place,
      // past the owner block.
      if (w.value.size() > 10) {
        ASSERT_TRUE(db_->GetRange(w.key, 5, 6, &v).ok());
        EXPECT_EQ(v, w.value.substr(5, 6));
      }
    }
  }

  TempDir tmp_{"bitgask_owner_test"};
  std::string root_;
  Options options_;
  std::unique_ptr<DB> db_;
};

TEST_F(OwnerTest, OwnersSurviveWritesCopiesReopenHintsAndMerge) {
  Open();
  const Owner alice{1000, 100}, bob{65534, 65533}, root{0, 0};
  std::vector<Want> want;
  auto put = [&](const std::string& key, const std::string& value, std::optional<Owner> owner) {
    WriteOptions wo;
    wo.owner = owner;
    wo.mode = 0100644;
    ASSERT_TRUE(db_->Put(wo, key, value).ok());
    want.push_back({key, value, owner, 0100644});
  };
  put("small", "tiny value", alice);
  put("root-owned", "r", root);  // uid 0 is an owner, not "none"
  put("compressed", std::string(5000, 'z'), bob);
  put("blocks", Bytes(300000, 1), alice);  // stored with block checksums
  put("large", Bytes(3 << 20, 2), bob);    // merged a piece at a time
  put("plain", "no owner", std::nullopt);

  // A streamed put with an owner.
  const std::string streamed = Bytes(200000, 3);
  WriteOptions wo;
  wo.owner = bob;
  wo.mode = 0100600;
  ASSERT_TRUE(db_->PutFrom(wo, "streamed", streamed.size(), [&](uint64_t off, size_t n, char* dst) {
                   streamed.copy(dst, n, off);
                   return Status::OK();
                 }).ok());
  want.push_back({"streamed", streamed, bob, 0100600});

  // A batch put with an owner.
  WriteBatch b;
  b.PutWithMeta("batched", "in a batch", 0, 0100755, 0, alice);
  ASSERT_TRUE(db_->Write(WriteOptions(), b).ok());
  want.push_back({"batched", "in a batch", alice, 0100755});

  // chown without rewriting: a key without an owner gets one, one with an
  // owner gets another, a large one changes in place too.
  ASSERT_TRUE(db_->SetMeta("plain", -1, -1, root).ok());
  want[5].owner = root;
  ASSERT_TRUE(db_->SetMeta("small", 0100700, -1, bob).ok());
  want[0].owner = bob;
  want[0].mode = 0100700;
  ASSERT_TRUE(db_->SetMeta("large", -1, -1, alice).ok());
  want[4].owner = alice;
  // A key that never had one stays without.
  put("never", "nobody's", std::nullopt);

  // Renames copy the owner, whether it came with the value or later.
  WriteBatch mv;
  mv.Copy("plain", "plain-moved");
  mv.Copy("blocks", "blocks-moved");
  ASSERT_TRUE(db_->Write(WriteOptions(), mv).ok());
  want.push_back({"plain-moved", "no owner", root, 0100644});
  want.push_back({"blocks-moved", want[3].value, alice, 0100644});

  Check(want, "as written");
  Reopen();
  Check(want, "reopened by scanning");
  // Enough writes to close files so hints exist, then reopen from hints.
  for (int i = 0; i < 40; i++) ASSERT_TRUE(db_->Put("fill" + std::to_string(i), Bytes(50000, i)).ok());
  Reopen();
  Check(want, "reopened (hints where written)");
  MergeOptions mo;
  mo.force = true;
  MergeResult r;
  ASSERT_TRUE(db_->Merge(mo, &r).ok());
  ASSERT_GT(r.records_copied, 0u);
  Check(want, "after merge");
  Reopen();
  Check(want, "reopened after merge");
  Options no_hints = options_;
  options_.use_hint_files = false;
  Reopen();
  Check(want, "reopened after merge without hints");
  options_ = no_hints;
  ASSERT_TRUE(db_->SetMeta("never", -1, 7, std::nullopt).ok());
  RecordMeta m;
  ASSERT_TRUE(db_->Meta("never", &m).ok());
  EXPECT_FALSE(m.owner.has_value());
}

TEST(OwnerKeydirTest, OwnerAndExpiryTrailersComeAndGo) {
  internal::Keydir kd;
  internal::KeydirEntry e;
  e.file_id = 3;
  e.offset = 77;
  e.timestamp = 5;
  const std::string key = "some/key";
  ASSERT_FALSE(kd.Put(key, e));
  const size_t plain = kd.MemoryUsage();
  for (int round = 0; round < 4; round++) {
    internal::KeydirEntry w = e;
    w.expires = (round & 1) ? 123456789 : 0;
    if (round & 2) {
      w.flags |= internal::kEntryHasOwner;
      w.uid = 4000000000u + round;
      w.gid = 17;
    }
    kd.Put(key, w);
    internal::KeydirEntry got;
    ASSERT_TRUE(kd.Get(key, &got));
    EXPECT_TRUE(got == w) << "round " << round;
  }
  kd.Put(key, e);
  internal::KeydirEntry got;
  ASSERT_TRUE(kd.Get(key, &got));
  EXPECT_TRUE(got == e);
  EXPECT_FALSE(got.has_owner());
  EXPECT_EQ(got.uid, 0u);
  EXPECT_LE(kd.MemoryUsage(), plain + 64);
}

}  // namespace
}  // namespace bitgask
