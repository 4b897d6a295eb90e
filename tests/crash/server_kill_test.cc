// server_kill_test: clients send SET (some with PX), DEL of one or several
// keys, INCR and MSET to bitgaskd running with its default durability (one
// fdatasync per loop turn before any reply of that turn); the server is
// killed with SIGKILL at a random moment, restarted on the same store, and
// every key is read back with GET and checked against a model of the
// acknowledged replies (crash_model.h).
//
// Three client connections, each owning its keys (values, and counters that
// only INCR and DEL touch), one request at a time. A request with a reply
// was acknowledged; the one without (the kill cut the connection) may have
// happened whole or not at all: MSET and a DEL of several keys are atomic
// batches, so they too apply whole or not at all. 1 in 8 kills comes within
// 30 ms of the server's start (while it opens the store); the others 10 to
// 500 ms after the clients start. Each restart then checks every key, that
// KEYS * holds no key nobody wrote, and the run ends with a clean SIGTERM
// (exit status 0) and one more check.
//
// bitgaskd is $BITGASKD or $abs_top_builddir/src/bitgaskd. Children die with
// the driver (PR_SET_PDEATHSIG) and are killed on every way out of it.
// Budget: harness.h (default 20 s; BITGASK_CRASH_SECONDS=3600 for an hour).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crash_model.h"
#include "harness.h"

namespace bitgask {
namespace crash {
namespace {

constexpr int kClients = 3;
constexpr int kValueKeys = 24, kCounters = 6;
constexpr int64_t kMs = 1000 * 1000;

std::string ValueKey(int c, int k) { return "c" + std::to_string(c) + ":v" + std::to_string(k); }
std::string CounterKey(int c, int k) { return "c" + std::to_string(c) + ":n" + std::to_string(k); }

std::vector<std::string> ClientKeys(int c) {
  std::vector<std::string> keys;
  for (int k = 0; k < kValueKeys; k++) keys.push_back(ValueKey(c, k));
  for (int k = 0; k < kCounters; k++) keys.push_back(CounterKey(c, k));
  return keys;
}

// Binary value bytes from a seed (any byte, CR and LF included).
std::string ValueOf(uint64_t seed, size_t size) {
  std::string v = "s" + std::to_string(seed) + ":";
  std::mt19937_64 r(seed);
  while (v.size() < size) v.push_back(static_cast<char>(r()));
  return v;
}

// ------------------------------------------------------------------ RESP

// One connection; every call returns false once the connection is gone.
class Conn {
 public:
  ~Conn() { Close(); }
  bool Connect(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Sends a command; reads its reply: type char ('+', '-', ':', '$', '*') and
  // text (a bulk string's bytes; for '$' a null reply has type '0'). Arrays
  // are read as their elements joined by '\n' (KEYS' keys have no newline).
  bool Call(const std::vector<std::string>& args, char* type, std::string* text) {
    std::string req = "*" + std::to_string(args.size()) + "\r\n";
    for (const std::string& a : args) req += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    for (size_t off = 0; off < req.size();) {
      const ssize_t n = ::send(fd_, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return Reply(type, text);
  }

 private:
  bool Fill() {
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    in_.append(buf, static_cast<size_t>(n));
    return true;
  }
  bool Line(std::string* l) {
    size_t p;
    while ((p = in_.find("\r\n")) == std::string::npos) {
      if (!Fill()) return false;
    }
    *l = in_.substr(0, p);
    in_.erase(0, p + 2);
    return true;
  }
  bool Reply(char* type, std::string* text) {
    std::string l;
    if (!Line(&l) || l.empty()) return false;
    *type = l[0];
    *text = l.substr(1);
    if (*type == '$') {
      const long long n = std::atoll(text->c_str());
      if (n < 0) {
        *type = '0';
        text->clear();
        return true;
      }
      while (in_.size() < static_cast<size_t>(n) + 2) {
        if (!Fill()) return false;
      }
      *text = in_.substr(0, static_cast<size_t>(n));
      in_.erase(0, static_cast<size_t>(n) + 2);
    } else if (*type == '*') {
      const long long n = std::atoll(text->c_str());
      std::string all;
      for (long long i = 0; i < n; i++) {
        char t;
        std::string e;
        if (!Reply(&t, &e)) return false;
        all += (i ? "\n" : "") + e;
      }
      *text = all;
    }
    return true;
  }

  int fd_ = -1;
  std::string in_;
};

// ------------------------------------------------------------------ clients

struct Request {
  std::vector<std::string> args;
  std::vector<Effect> effects;  // expiry windows are filled in once t0, t1 are known
  int64_t ttl_ns = 0;           // SET ... PX
  char want = '+';              // reply type that acknowledges it
};

Request RandomRequest(int c, std::mt19937_64* rng) {
  Request r;
  auto value = [&](int k) {
    const size_t sizes[] = {0, 10, 100, 1000, 20000};
    const uint64_t seed = (*rng)();
    const size_t size = sizes[(*rng)() % 5] + (*rng)() % 50;
    Effect e;
    e.kind = Effect::kSet;
    e.key = ValueKey(c, k);
    e.value = std::make_shared<const std::string>(ValueOf(seed, size));
    return e;
  };
  const int pick = static_cast<int>((*rng)() % 100);
  if (pick < 35) {  // SET, a third with a TTL of 5 ms to 2 s
    Effect e = value(static_cast<int>((*rng)() % kValueKeys));
    r.args = {"SET", e.key, *e.value};
    if ((*rng)() % 3 == 0) {
      const int64_t ms = static_cast<int64_t>(5.0 * std::pow(400.0, std::uniform_real_distribution<>(0, 1)(*rng)));
      r.args.push_back("PX");
      r.args.push_back(std::to_string(ms));
      r.ttl_ns = ms * kMs;
    }
    r.effects.push_back(e);
  } else if (pick < 55) {  // INCR
    Effect e;
    e.kind = Effect::kIncr;
    e.key = CounterKey(c, static_cast<int>((*rng)() % kCounters));
    r.args = {"INCR", e.key};
    r.effects.push_back(e);
    r.want = ':';
  } else if (pick < 75) {  // DEL of one to three keys (values or counters)
    r.args = {"DEL"};
    const int n = 1 + static_cast<int>((*rng)() % 3);
    for (int i = 0; i < n; i++) {
      Effect e;
      e.kind = Effect::kDelete;
      e.key = (*rng)() % 4 == 0 ? CounterKey(c, static_cast<int>((*rng)() % kCounters))
                                : ValueKey(c, static_cast<int>((*rng)() % kValueKeys));
      r.args.push_back(e.key);
      r.effects.push_back(e);
    }
    r.want = ':';
  } else {  // MSET of two to six values
    r.args = {"MSET"};
    const int n = 2 + static_cast<int>((*rng)() % 5);
    for (int i = 0; i < n; i++) {
      Effect e = value(static_cast<int>((*rng)() % kValueKeys));
      r.args.push_back(e.key);
      r.args.push_back(*e.value);
      r.effects.push_back(e);
    }
  }
  return r;
}

std::string Show(const Request& r) {
  std::string s;
  for (size_t i = 0; i < r.args.size(); i++) {
    const std::string& a = r.args[i];
    s += (i ? " " : "") + (a.size() > 16 ? Describe(&a) : a);
  }
  return s;
}

struct ClientLog {
  struct Done {
    Request req;
    int64_t t0 = 0, t1 = 0;
    bool acked = false;
  };
  std::vector<Done> ops;  // the last may be unacknowledged
  std::string error;       // an unexpected reply
};

void RunClient(int port, int c, uint64_t seed, std::atomic<uint64_t>* acked, ClientLog* log) {
  std::mt19937_64 rng(seed);
  Conn conn;
  if (!conn.Connect(port)) return;  // the server may already be gone
  for (;;) {
    ClientLog::Done d;
    d.req = RandomRequest(c, &rng);
    d.t0 = WallNanos();
    char type = 0;
    std::string text;
    const bool replied = conn.Call(d.req.args, &type, &text);
    d.t1 = WallNanos();
    if (replied && type != d.req.want) {
      log->error = Show(d.req) + ": reply " + std::string(1, type) + text;
      return;
    }
    d.acked = replied;
    log->ops.push_back(d);
    if (!replied) return;
    (*acked)++;
  }
}

// ------------------------------------------------------------------ driver

class Driver {
 public:
  explicit Driver(const Budget& b) : b_(b), dir_("server-kill"), rng_(b.seed()) {
    const char* bin = std::getenv("BITGASKD");
    const char* top = std::getenv("abs_top_builddir");
    bitgaskd_ = bin && *bin ? bin : std::string(top && *top ? top : "..") + "/src/bitgaskd";
    if (::access(bitgaskd_.c_str(), X_OK) != 0) Fail(b_, bitgaskd_ + " is not built");
    store_ = dir_.path() + "/store";
    for (int c = 0; c < kClients; c++) {
      models_.emplace_back(ClientKeys(c));
      for (const std::string& k : ClientKeys(c)) all_keys_.insert(k);
    }
  }
  ~Driver() { KillServer(); }

  void Run() {
    for (uint64_t it = 0; b_.More(it); it++) Iteration(it);
    // A clean stop keeps everything too.
    const int port = StartServer();
    Check(port, "after the last kill");
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      Fail(b_, "bitgaskd did not exit 0 on SIGTERM (status " + std::to_string(status) + ")");
    }
    Check(StartServer(), "after a clean stop");
    KillServer();
    std::printf("%s: %llu SIGKILLs of bitgaskd in %.0f s (%llu within 30 ms of its start), "
                "%llu acknowledged requests checked (SET, SET PX, DEL, INCR, MSET), %llu without "
                "a reply at a kill; no loss, corruption or resurrection\n",
                b_.name(), U(kills_), b_.Elapsed(), U(early_), U(acked_), U(inflight_));
  }

 private:
  static unsigned long long U(uint64_t v) { return static_cast<unsigned long long>(v); }

  // Starts bitgaskd on the store and returns its port once it listens.
  int StartServer() {
    SpawnServer();
    const std::string pf = dir_.path() + "/port", log = dir_.path() + "/bitgaskd.log";
    for (int i = 0; i < 20000; i++) {
      std::ifstream in(pf);
      int port = 0;
      if (in >> port && port > 0) return port;
      int st;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        Fail(b_, "bitgaskd exited at start (status " + std::to_string(st) + "); see " + log);
      }
      SleepMicros(1000);
    }
    Fail(b_, "bitgaskd not listening within 20 s");
  }

  void SpawnServer() {
    const std::string pf = dir_.path() + "/port";
    ::unlink(pf.c_str());
    const std::string log = dir_.path() + "/bitgaskd.log";
    pid_ = ::fork();
    if (pid_ < 0) Fail(b_, std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      std::freopen(log.c_str(), "a", stderr);
      ::execl(bitgaskd_.c_str(), "bitgaskd", "--dir", store_.c_str(), "--addr", "127.0.0.1:0",
              "--port-file", pf.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }

  void KillServer() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  void Iteration(uint64_t it) {
    const std::string when = "iteration " + std::to_string(it);
    if (rng_() % 8 == 0) {  // a kill while it may still be opening the store
      SpawnServer();
      SleepMicros(static_cast<int64_t>(rng_() % 30000));
      KillServer();
      kills_++;
      early_++;
    }
    const int port = StartServer();
    Check(port, when + " (after the previous kill)");
    std::vector<ClientLog> logs(kClients);
    std::atomic<uint64_t> acked{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; c++) {
      clients.emplace_back(RunClient, port, c, rng_(), &acked, &logs[c]);
    }
    SleepMicros(static_cast<int64_t>(10000.0 * std::pow(50.0, std::uniform_real_distribution<>(0, 1)(rng_))));
    KillServer();
    kills_++;
    const int64_t kill_time = WallNanos();
    for (std::thread& t : clients) t.join();
    for (int c = 0; c < kClients; c++) {
      if (!logs[c].error.empty()) Fail(b_, when + ", client " + std::to_string(c) + ": " + logs[c].error);
      for (ClientLog::Done& d : logs[c].ops) {
        std::vector<Effect> effects = d.req.effects;
        const int64_t t1 = d.acked ? d.t1 : kill_time;
        if (d.req.ttl_ns) {
          effects[0].exp_lo = d.t0 + d.req.ttl_ns;
          effects[0].exp_hi = t1 + d.req.ttl_ns;
        }
        if (d.acked) {
          models_[c].Acknowledged(effects);
          acked_++;
        } else {
          models_[c].InFlight(effects);
          inflight_++;
        }
        history_.Add(c, Show(d.req) + (d.acked ? "" : ": no reply (killed)"));
      }
    }
  }

  void Check(int port, const std::string& when) {
    Conn conn;
    if (!conn.Connect(port)) Fail(b_, when + ": cannot connect to bitgaskd");
    for (int c = 0; c < kClients; c++) {
      const std::string err = models_[c].Check([&](const std::string& key) {
        Observed o;
        char type = 0;
        o.t0 = WallNanos();
        const bool ok = conn.Call({"GET", key}, &type, &o.value);
        o.t1 = WallNanos();
        if (!ok) o.error = "the connection broke";
        else if (type == '$') o.present = true;
        else if (type != '0') o.error = "reply " + std::string(1, type) + o.value;
        return o;
      });
      if (!err.empty()) {
        Fail(b_, when + ", client " + std::to_string(c) + ": " + err + history_.Of("client", c));
      }
    }
    char type = 0;
    std::string keys;
    if (!conn.Call({"KEYS", "*"}, &type, &keys) || type != '*') Fail(b_, when + ": KEYS * failed");
    size_t start = 0;
    while (!keys.empty() && start <= keys.size()) {
      const size_t nl = std::min(keys.find('\n', start), keys.size());
      const std::string k = keys.substr(start, nl - start);
      if (!all_keys_.count(k)) Fail(b_, when + ": a key nobody wrote: " + Describe(&k));
      start = nl + 1;
    }
  }

  const Budget& b_;
  ScratchDir dir_;
  std::mt19937_64 rng_;
  std::string bitgaskd_, store_;
  pid_t pid_ = -1;
  std::vector<KeyModel> models_;
  std::set<std::string> all_keys_;
  History history_;
  uint64_t kills_ = 0, early_ = 0, acked_ = 0, inflight_ = 0;
};

}  // namespace
}  // namespace crash
}  // namespace bitgask

int main() {
  ::signal(SIGPIPE, SIG_IGN);
  bitgask::crash::Budget b("server_kill_test", 20);
  bitgask::crash::Driver d(b);
  d.Run();
  return 0;
}
