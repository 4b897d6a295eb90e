// The POSIX Env: files, directories, locks and the clock.
#include "bitgask/env.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace bitgask {
namespace {

// Reads a whole file with the standard library (independent of the Env).
std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bitgask_env_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    env_ = Env::Default();
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::string cmd = "rm -rf '" + dir_ + "'";
      ASSERT_EQ(std::system(cmd.c_str()), 0);
    }
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
  Env* env_ = nullptr;
};

TEST_F(EnvTest, DefaultIsASingleton) {
  EXPECT_NE(Env::Default(), nullptr);
  EXPECT_EQ(Env::Default(), Env::Default());
}

TEST_F(EnvTest, AppendAndSize) {
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_->NewWritableFile(Path("a"), &f).ok());
  EXPECT_EQ(f->Size(), 0u);
  ASSERT_TRUE(f->Append("hello").ok());
  EXPECT_EQ(f->Size(), 5u);
  ASSERT_TRUE(f->Append("").ok());
  EXPECT_EQ(f->Size(), 5u);
  std::string big(300000, '\0');
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>(i * 7 + 3);
  ASSERT_TRUE(f->Append(big).ok());
  EXPECT_EQ(f->Size(), 5u + big.size());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Close().ok());
  EXPECT_TRUE(f->Close().ok());  // twice is harmless
  EXPECT_EQ(Slurp(Path("a")), "hello" + big);
  uint64_t size = 0;
  ASSERT_TRUE(env_->GetFileSize(Path("a"), &size).ok());
  EXPECT_EQ(size, 5u + big.size());
}

// FlushFile flushes through a descriptor of its own while the writer keeps
// appending; it changes no bytes and reports a missing file clearly.
TEST_F(EnvTest, FlushFileWhileAppending) {
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_->NewWritableFile(Path("f"), &f).ok());
  ASSERT_TRUE(f->Append("before").ok());
  ASSERT_TRUE(env_->FlushFile(Path("f")).ok());
  ASSERT_TRUE(f->Append("after").ok());
  ASSERT_TRUE(f->Close().ok());
  EXPECT_EQ(Slurp(Path("f")), "beforeafter");
  Status s = env_->FlushFile(Path("missing"));
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(s.errno_value(), ENOENT);
  EXPECT_NE(s.ToString().find("missing"), std::string::npos) << s.ToString();
}

TEST_F(EnvTest, NewWritableFileTruncates) {
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_->NewWritableFile(Path("t"), &f).ok());
  ASSERT_TRUE(f->Append("old contents").ok());
  ASSERT_TRUE(f->Close().ok());
  ASSERT_TRUE(env_->NewWritableFile(Path("t"), &f).ok());
  EXPECT_EQ(f->Size(), 0u);
  ASSERT_TRUE(f->Append("new").ok());
  ASSERT_TRUE(f->Close().ok());
  EXPECT_EQ(Slurp(Path("t")), "new");
}

TEST_F(EnvTest, AppendVManyPieces) {
  // More than 64 pieces crosses the iovec batching; empty pieces sprinkled in,
  // including runs of them and at the batch edges.
  std::vector<std::string> storage;
  std::string expect;
  for (int i = 0; i < 1000; i++) {
    std::string p;
    if (i % 5 != 0 && !(i >= 60 && i <= 70) && i != 127 && i != 128) {
      p.assign(static_cast<size_t>(1 + (i * 37) % 300), static_cast<char>('a' + i % 26));
      p += std::to_string(i);
    }
    storage.push_back(p);
    expect += p;
  }
  std::vector<std::string_view> pieces(storage.begin(), storage.end());
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_->NewWritableFile(Path("v"), &f).ok());
  ASSERT_TRUE(f->Append("head:").ok());
  ASSERT_TRUE(f->AppendV(pieces.data(), pieces.size()).ok());
  EXPECT_EQ(f->Size(), 5 + expect.size());
  // All empty, and zero pieces.
  std::vector<std::string_view> empties(200);
  ASSERT_TRUE(f->AppendV(empties.data(), empties.size()).ok());
  ASSERT_TRUE(f->AppendV(nullptr, 0).ok());
  EXPECT_EQ(f->Size(), 5 + expect.size());
  // Exactly 64 and 65 pieces.
  std::string tail;
  for (size_t n : {size_t{64}, size_t{65}, size_t{128}, size_t{129}}) {
    std::vector<std::string> s2;
    for (size_t i = 0; i < n; i++) s2.push_back(std::to_string(n) + "." + std::to_string(i) + ";");
    std::vector<std::string_view> v2(s2.begin(), s2.end());
    ASSERT_TRUE(f->AppendV(v2.data(), v2.size()).ok());
    for (auto& s : s2) tail += s;
  }
  EXPECT_EQ(f->Size(), 5 + expect.size() + tail.size());
  ASSERT_TRUE(f->Close().ok());
  EXPECT_EQ(Slurp(Path("v")), "head:" + expect + tail);
}

TEST_F(EnvTest, AppendVLargePieces) {
  // A few large pieces: writev may write them partially; all must land in order.
  std::vector<std::string> storage;
  std::string expect;
  for (int i = 0; i < 70; i++) {
    std::string p(static_cast<size_t>((i % 3 == 0) ? 200000 : 1000 + i), static_cast<char>(i));
    storage.push_back(p);
    expect += p;
  }
  std::vector<std::string_view> pieces(storage.begin(), storage.end());
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_->NewWritableFile(Path("lv"), &f).ok());
  ASSERT_TRUE(f->AppendV(pieces.data(), pieces.size()).ok());
  EXPECT_EQ(f->Size(), expect.size());
  ASSERT_TRUE(f->Close().ok());
  EXPECT_TRUE(Slurp(Path("lv")) == expect);
}

TEST_F(EnvTest, AppendableFileContinuesAtEnd) {
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_->NewWritableFile(Path("ap"), &f).ok());
  ASSERT_TRUE(f->Append("0123456789").ok());
  ASSERT_TRUE(f->Close().ok());
  f.reset();

  ASSERT_TRUE(env_->NewAppendableFile(Path("ap"), &f).ok());
  EXPECT_EQ(f->Size(), 10u);
  ASSERT_TRUE(f->Append("abc").ok());
  EXPECT_EQ(f->Size(), 13u);
  std::string_view pieces[] = {"d", "", "ef"};
  ASSERT_TRUE(f->AppendV(pieces, 3).ok());
  EXPECT_EQ(f->Size(), 16u);
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Close().ok());
  EXPECT_EQ(Slurp(Path("ap")), "0123456789abcdef");

  // An appendable file does not create: a missing file is an I/O error (ENOENT).
  Status s = env_->NewAppendableFile(Path("missing"), &f);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(s.errno_value(), ENOENT);
  EXPECT_FALSE(env_->FileExists(Path("missing")));
}

TEST_F(EnvTest, RandomAccessReads) {
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<char>((i * 131) >> 3);
  std::unique_ptr<WritableFile> w;
  ASSERT_TRUE(env_->NewWritableFile(Path("r"), &w).ok());
  ASSERT_TRUE(w->Append(data).ok());
  ASSERT_TRUE(w->Close().ok());

  std::unique_ptr<RandomAccessFile> r;
  ASSERT_TRUE(env_->NewRandomAccessFile(Path("r"), &r).ok());
  std::string scratch(200000, 'x');
  std::string_view got;
  for (uint64_t off : {uint64_t{0}, uint64_t{1}, uint64_t{4095}, uint64_t{4096}, uint64_t{77777}}) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{32}, size_t{5000}}) {
      ASSERT_TRUE(r->Read(off, n, scratch.data(), &got).ok());
      EXPECT_EQ(got, std::string_view(data).substr(off, n)) << off << " " << n;
    }
  }
  // Across the end: a short result.
  ASSERT_TRUE(r->Read(data.size() - 10, 100, scratch.data(), &got).ok());
  EXPECT_EQ(got.size(), 10u);
  EXPECT_EQ(got, std::string_view(data).substr(data.size() - 10));
  // The whole file in one read bigger than it.
  ASSERT_TRUE(r->Read(0, scratch.size(), scratch.data(), &got).ok());
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
  // At and past the end: empty.
  ASSERT_TRUE(r->Read(data.size(), 10, scratch.data(), &got).ok());
  EXPECT_TRUE(got.empty());
  ASSERT_TRUE(r->Read(data.size() + 12345, 10, scratch.data(), &got).ok());
  EXPECT_TRUE(got.empty());

  // Reads see later appends through the same reader.
  ASSERT_TRUE(env_->NewAppendableFile(Path("r"), &w).ok());
  ASSERT_TRUE(w->Append("TAIL").ok());
  ASSERT_TRUE(w->Close().ok());
  ASSERT_TRUE(r->Read(data.size(), 10, scratch.data(), &got).ok());
  EXPECT_EQ(got, "TAIL");

  std::unique_ptr<RandomAccessFile> missing;
  Status s = env_->NewRandomAccessFile(Path("nope"), &missing);
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(s.errno_value(), ENOENT);
}

TEST_F(EnvTest, ChildrenRenameTruncateRemove) {
  std::vector<std::string> names;
  ASSERT_TRUE(env_->GetChildren(dir_, &names).ok());
  EXPECT_TRUE(names.empty());

  for (const char* n : {"one", "two", "three"}) {
    std::unique_ptr<WritableFile> f;
    ASSERT_TRUE(env_->NewWritableFile(Path(n), &f).ok());
    ASSERT_TRUE(f->Append(std::string(n) + "-contents").ok());
    ASSERT_TRUE(f->Close().ok());
  }
  ASSERT_TRUE(env_->CreateDir(Path("sub")).ok());
  names = {"stale"};  // GetChildren replaces, not appends
  ASSERT_TRUE(env_->GetChildren(dir_, &names).ok());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"one", "sub", "three", "two"}));

  // Rename replaces the target atomically.
  ASSERT_TRUE(env_->RenameFile(Path("one"), Path("two")).ok());
  EXPECT_FALSE(env_->FileExists(Path("one")));
  EXPECT_TRUE(env_->FileExists(Path("two")));
  EXPECT_EQ(Slurp(Path("two")), "one-contents");
  Status s = env_->RenameFile(Path("one"), Path("x"));
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(s.errno_value(), ENOENT);

  // Truncate shrinks (and extends with zeros).
  ASSERT_TRUE(env_->TruncateFile(Path("three"), 3).ok());
  EXPECT_EQ(Slurp(Path("three")), "thr");
  ASSERT_TRUE(env_->TruncateFile(Path("three"), 5).ok());
  EXPECT_EQ(Slurp(Path("three")), std::string("thr\0\0", 5));
  ASSERT_TRUE(env_->TruncateFile(Path("three"), 0).ok());
  uint64_t size = 99;
  ASSERT_TRUE(env_->GetFileSize(Path("three"), &size).ok());
  EXPECT_EQ(size, 0u);
  EXPECT_TRUE(env_->TruncateFile(Path("absent"), 0).IsIOError());

  // Remove.
  ASSERT_TRUE(env_->RemoveFile(Path("two")).ok());
  EXPECT_FALSE(env_->FileExists(Path("two")));
  s = env_->RemoveFile(Path("two"));
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(s.errno_value(), ENOENT);
  s = env_->GetFileSize(Path("two"), &size);
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(s.errno_value(), ENOENT);

  ASSERT_TRUE(env_->RemoveFile(Path("three")).ok());
  // A non-empty directory cannot be removed; an empty one can.
  {
    std::unique_ptr<WritableFile> f;
    ASSERT_TRUE(env_->NewWritableFile(Path("sub/f"), &f).ok());
  }
  EXPECT_TRUE(env_->RemoveDir(Path("sub")).IsIOError());
  ASSERT_TRUE(env_->RemoveFile(Path("sub/f")).ok());
  ASSERT_TRUE(env_->RemoveDir(Path("sub")).ok());
  EXPECT_FALSE(env_->FileExists(Path("sub")));
  ASSERT_TRUE(env_->GetChildren(dir_, &names).ok());
  EXPECT_TRUE(names.empty());

  EXPECT_TRUE(env_->GetChildren(Path("no-such-dir"), &names).IsIOError());
}

TEST_F(EnvTest, CreateDirTwiceAndSyncDir) {
  ASSERT_TRUE(env_->CreateDir(Path("d")).ok());
  EXPECT_TRUE(env_->CreateDir(Path("d")).ok());
  struct stat st;
  ASSERT_EQ(::stat(Path("d").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_TRUE(env_->SyncDir(Path("d")).ok());
  EXPECT_TRUE(env_->SyncDir(dir_).ok());
  // Missing parents are not created.
  EXPECT_TRUE(env_->CreateDir(Path("x/y/z")).IsIOError());
  EXPECT_TRUE(env_->SyncDir(Path("missing")).IsIOError());
  // SyncDir on a regular file fails (O_DIRECTORY).
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_->NewWritableFile(Path("plain"), &f).ok());
  EXPECT_TRUE(env_->SyncDir(Path("plain")).IsIOError());
}

TEST_F(EnvTest, LockFile) {
  const std::string lock_path = Path("LOCK");
  std::unique_ptr<FileLock> first;
  ASSERT_TRUE(env_->LockFile(lock_path, &first).ok());
  ASSERT_NE(first, nullptr);
  EXPECT_TRUE(env_->FileExists(lock_path));

  // flock locks belong to open file descriptions: a second open in the same
  // process conflicts.
  std::unique_ptr<FileLock> second;
  Status s = env_->LockFile(lock_path, &second);
  EXPECT_TRUE(s.IsLocked()) << s.ToString();
  EXPECT_EQ(second, nullptr);
  EXPECT_EQ(s.errno_value(), EBUSY);

  // A different path is independent.
  std::unique_ptr<FileLock> other;
  EXPECT_TRUE(env_->LockFile(Path("LOCK2"), &other).ok());

  first.reset();  // releases
  s = env_->LockFile(lock_path, &second);
  EXPECT_TRUE(s.ok()) << s.ToString();
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(env_->LockFile(lock_path, &first).IsLocked());
  second.reset();
  EXPECT_TRUE(env_->LockFile(lock_path, &first).ok());

  // A lock file in a missing directory is an I/O error, not Locked.
  std::unique_ptr<FileLock> bad;
  s = env_->LockFile(Path("nodir/LOCK"), &bad);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
}

// 0 when another process could take an exclusive flock on path, 1 when it was
// held, 2 on error. The child makes only async-signal-safe calls.
int TryLockInChild(const std::string& path) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(path.c_str(), O_RDWR);
    if (fd < 0) ::_exit(2);
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) ::_exit(0);
    ::_exit(errno == EWOULDBLOCK ? 1 : 2);
  }
  if (pid < 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST_F(EnvTest, LockConflictsAcrossProcesses) {
  std::unique_ptr<FileLock> lock;
  ASSERT_TRUE(env_->LockFile(Path("LOCK"), &lock).ok());
  EXPECT_EQ(TryLockInChild(Path("LOCK")), 1) << "another process took a held lock";
  lock.reset();
  EXPECT_EQ(TryLockInChild(Path("LOCK")), 0) << "the released lock could not be taken";
}

TEST_F(EnvTest, Clock) {
  const int64_t before = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const int64_t now = env_->NowUnixNanos();
  const int64_t after = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  EXPECT_GE(now, before);
  EXPECT_LE(now, after);
  // Plausibly nanoseconds since 1970: after 2020 and before 2100.
  EXPECT_GT(now, int64_t{1577836800} * 1000000000);
  EXPECT_LT(now, int64_t{4102444800} * 1000000000);

  const int64_t t0 = env_->NowUnixNanos();
  env_->SleepMicros(20000);
  const int64_t t1 = env_->NowUnixNanos();
  EXPECT_GE(t1 - t0, 20000000);
  EXPECT_LT(t1 - t0, 2000000000);
}

TEST_F(EnvTest, WrapperForwards) {
  // An EnvWrapper that counts calls and forwards the rest.
  class Counting : public EnvWrapper {
   public:
    using EnvWrapper::EnvWrapper;
    Status NewWritableFile(const std::string& p, std::unique_ptr<WritableFile>* f) override {
      creates++;
      return EnvWrapper::NewWritableFile(p, f);
    }
    int creates = 0;
  };
  Counting env(Env::Default());
  EXPECT_EQ(env.target(), Env::Default());
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env.NewWritableFile(Path("w"), &f).ok());
  ASSERT_TRUE(f->Append("x").ok());
  ASSERT_TRUE(f->Close().ok());
  EXPECT_EQ(env.creates, 1);
  EXPECT_TRUE(env.FileExists(Path("w")));
  uint64_t size = 0;
  ASSERT_TRUE(env.GetFileSize(Path("w"), &size).ok());
  EXPECT_EQ(size, 1u);
  ASSERT_TRUE(env.RenameFile(Path("w"), Path("w2")).ok());
  std::vector<std::string> names;
  ASSERT_TRUE(env.GetChildren(dir_, &names).ok());
  EXPECT_EQ(names, std::vector<std::string>{"w2"});
}

}  // namespace
}  // namespace bitgask
