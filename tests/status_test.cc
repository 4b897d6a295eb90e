// Status: codes, predicates, messages, copying and the errno mapping.
#include "bitgask/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

namespace bitgask {
namespace {

using Code = Status::Code;

// Every constructor with the code, ToString prefix and errno it must give.
struct Case {
  Status status;
  Code code;
  const char* name;
  int err;
};

std::vector<Case> AllCodes() {
  return {
      {Status::NotFound("nf msg"), Code::kNotFound, "NotFound", ENOENT},
      {Status::Expired("exp msg"), Code::kNotFound, "Expired", ENOENT},
      {Status::Corruption("c msg"), Code::kCorruption, "Corruption", EIO},
      {Status::InvalidArgument("ia msg"), Code::kInvalidArgument, "Invalid argument", EINVAL},
      {Status::TooLarge("tl msg"), Code::kTooLarge, "Too large", E2BIG},
      {Status::IOError("io msg"), Code::kIOError, "IO error", EIO},
      {Status::IOError("io msg", ENOSPC), Code::kIOError, "IO error", ENOSPC},
      {Status::Locked("l msg"), Code::kLocked, "Locked", EBUSY},
      {Status::Conflict("cf msg"), Code::kConflict, "Conflict", EEXIST},
      {Status::NotSupported("ns msg"), Code::kNotSupported, "Not supported", ENOTSUP},
      {Status::Closed("cl msg"), Code::kClosed, "Closed", EBADF},
  };
}

// The predicates as a bit set, in Code order, plus IsExpired as the top bit.
unsigned Predicates(const Status& s) {
  unsigned bits = 0;
  int i = 0;
  for (bool b : {s.ok(), s.IsNotFound(), s.IsCorruption(), s.IsInvalidArgument(), s.IsTooLarge(),
                 s.IsIOError(), s.IsLocked(), s.IsConflict(), s.IsNotSupported(), s.IsClosed(),
                 s.IsExpired()}) {
    if (b) bits |= 1u << i;
    i++;
  }
  return bits;
}

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Code::kOk);
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.errno_value(), 0);
  EXPECT_EQ(Predicates(s), 1u);  // only ok()
  Status o = Status::OK();
  EXPECT_TRUE(o.ok());
  EXPECT_EQ(o.ToString(), "OK");
  EXPECT_EQ(o.errno_value(), 0);
}

TEST(StatusTest, CodesAndExactlyOnePredicate) {
  for (const Case& c : AllCodes()) {
    SCOPED_TRACE(c.name);
    EXPECT_FALSE(c.status.ok());
    EXPECT_EQ(c.status.code(), c.code);
    unsigned expect = 1u << static_cast<int>(c.code);
    if (std::string(c.name) == "Expired") expect |= 1u << 10;
    EXPECT_EQ(Predicates(c.status), expect);
  }
}

TEST(StatusTest, ExpiredIsNotFoundButNotFoundIsNotExpired) {
  Status e = Status::Expired("gone");
  EXPECT_TRUE(e.IsNotFound());
  EXPECT_TRUE(e.IsExpired());
  Status n = Status::NotFound("gone");
  EXPECT_TRUE(n.IsNotFound());
  EXPECT_FALSE(n.IsExpired());
  for (const Case& c : AllCodes()) {
    if (std::string(c.name) != "Expired") {
      EXPECT_FALSE(c.status.IsExpired()) << c.name;
    }
  }
  EXPECT_FALSE(Status::OK().IsExpired());
}

TEST(StatusTest, ToStringAndMessage) {
  for (const Case& c : AllCodes()) {
    SCOPED_TRACE(c.name);
    const std::string msg = c.status.message();
    EXPECT_FALSE(msg.empty());
    EXPECT_EQ(c.status.ToString(), std::string(c.name) + ": " + msg);
  }
  EXPECT_EQ(Status::Corruption("data/000000003.data offset 4096: checksum mismatch").ToString(),
            "Corruption: data/000000003.data offset 4096: checksum mismatch");
  EXPECT_EQ(Status::NotFound("key not found").message(), "key not found");
  EXPECT_EQ(Status::Expired("key expired").ToString(), "Expired: key expired");
  EXPECT_EQ(Status::IOError("x: write", ENOSPC).ToString(), "IO error: x: write");
  // Empty messages and binary bytes survive unchanged.
  EXPECT_EQ(Status::Locked("").ToString(), "Locked: ");
  EXPECT_EQ(Status::Locked("").message(), "");
  std::string bin("a\0b\xff", 4);
  EXPECT_EQ(Status::InvalidArgument(bin).message(), bin);
}

TEST(StatusTest, ErrnoMapping) {
  for (const Case& c : AllCodes()) {
    EXPECT_EQ(c.status.errno_value(), c.err) << c.name;
  }
  // An I/O error keeps its own errno; 0 (unknown) reports EIO.
  for (int err : {EACCES, ENOSPC, EROFS, EDQUOT, EIO, ENOENT, EINTR}) {
    EXPECT_EQ(Status::IOError("m", err).errno_value(), err);
    EXPECT_TRUE(Status::IOError("m", err).IsIOError());
  }
  EXPECT_EQ(Status::IOError("m", 0).errno_value(), EIO);
  // Only IOError carries its own errno; the other codes map to fixed values.
  EXPECT_EQ(Status::Corruption("m").errno_value(), EIO);
}

TEST(StatusTest, CopyIsDeep) {
  Status a = Status::IOError("disk on fire", ENOSPC);
  Status b(a);
  EXPECT_EQ(b.code(), Code::kIOError);
  EXPECT_EQ(b.ToString(), a.ToString());
  EXPECT_EQ(b.errno_value(), ENOSPC);
  // Changing one leaves the other alone.
  a = Status::NotFound("other");
  EXPECT_TRUE(a.IsNotFound());
  EXPECT_EQ(b.message(), "disk on fire");
  EXPECT_EQ(b.errno_value(), ENOSPC);

  Status e = Status::Expired("x");
  Status e2;
  e2 = e;
  EXPECT_TRUE(e2.IsExpired());
  EXPECT_TRUE(e2.IsNotFound());
  EXPECT_EQ(e2.ToString(), "Expired: x");

  // Copy-assigning OK over an error clears it, and an error over OK sets it.
  Status c = Status::Corruption("bad");
  c = Status();
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.ToString(), "OK");
  c = b;
  EXPECT_EQ(c.ToString(), "IO error: disk on fire");

  // Self-assignment keeps the value.
  Status& ref = c;
  c = ref;
  EXPECT_EQ(c.ToString(), "IO error: disk on fire");
  EXPECT_EQ(c.errno_value(), ENOSPC);
}

TEST(StatusTest, Move) {
  Status a = Status::TooLarge("too big");
  Status b(std::move(a));
  EXPECT_TRUE(b.IsTooLarge());
  EXPECT_EQ(b.message(), "too big");
  EXPECT_EQ(b.errno_value(), E2BIG);

  Status c;
  c = std::move(b);
  EXPECT_TRUE(c.IsTooLarge());
  EXPECT_EQ(c.ToString(), "Too large: too big");

  Status d = Status::Conflict("lost");
  d = Status::OK();  // move-assign OK over an error
  EXPECT_TRUE(d.ok());
  EXPECT_EQ(d.errno_value(), 0);

  std::vector<Status> v;
  for (int i = 0; i < 100; i++) v.push_back(Status::IOError(std::to_string(i), i + 1));
  for (int i = 0; i < 100; i++) {
    EXPECT_EQ(v[i].message(), std::to_string(i));
    EXPECT_EQ(v[i].errno_value(), i + 1);
  }
}

TEST(StatusTest, LongMessage) {
  std::string big(1 << 16, 'm');
  Status s = Status::Corruption(big);
  EXPECT_EQ(s.message(), big);
  EXPECT_EQ(s.ToString().size(), big.size() + std::string("Corruption: ").size());
}

}  // namespace
}  // namespace bitgask
