#include "server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "commands.h"

namespace bitgask {
namespace server {

namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t MonotonicSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Splits "host:port" / "[v6]:port".
bool SplitHostPort(const std::string& addr, std::string* host, std::string* port) {
  if (!addr.empty() && addr[0] == '[') {
    size_t close = addr.find(']');
    if (close == std::string::npos || close + 1 >= addr.size() || addr[close + 1] != ':') {
      return false;
    }
    *host = addr.substr(1, close - 1);
    *port = addr.substr(close + 2);
  } else {
    size_t colon = addr.rfind(':');
    if (colon == std::string::npos || addr.find(':') != colon) return false;
    *host = addr.substr(0, colon);
    *port = addr.substr(colon + 1);
  }
  if (host->empty() || port->empty() || port->size() > 5) return false;
  for (char c : *port) {
    if (c < '0' || c > '9') return false;
  }
  return std::stoi(*port) <= 65535;
}

struct AddrInfoList {
  addrinfo* head = nullptr;
  ~AddrInfoList() {
    if (head) freeaddrinfo(head);
  }
};

Status Resolve(const std::string& addr, AddrInfoList* out) {
  std::string host, port;
  if (!SplitHostPort(addr, &host, &port)) {
    return Status::InvalidArgument("bad address '" + addr + "': want HOST:PORT or [IPV6]:PORT");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &out->head);
  if (rc != 0) {
    return Status::InvalidArgument("cannot resolve '" + host + "': " + gai_strerror(rc));
  }
  return Status::OK();
}

bool IsLoopback(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
  }
  return false;
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

Status CheckListenAddress(const std::string& addr, const std::string& requirepass) {
  AddrInfoList list;
  Status s = Resolve(addr, &list);
  if (!s.ok()) return s;
  if (!requirepass.empty()) return Status::OK();
  for (addrinfo* ai = list.head; ai != nullptr; ai = ai->ai_next) {
    if (!IsLoopback(ai->ai_addr)) {
      return Status::InvalidArgument(
          "refusing to listen on " + addr +
          ": it is not a loopback address and no password is set (protected mode). Anyone who "
          "can reach it could read and change every key. Set --requirepass, or listen on "
          "127.0.0.1");
    }
  }
  return Status::OK();
}

// ---------------------------------------------------------------- the loop

class Server::Loop {
 public:
  Loop(Server* server)
      : server_(server),
        commands_(server->db_, MakeConfig(*server), &stats_, server->options_.on_change) {
    stats_.start_unix_ns = NowNs();
  }

  Status Run();

 private:
  struct Client {
    int fd = -1;
    std::string in;
    size_t in_pos = 0;
    RespParser parser;
    std::string out;
    size_t out_pos = 0;
    ClientSession session;
    int64_t last_active = 0;
    bool closing = false;    // close once out is sent
    bool paused = false;     // EPOLLIN off: too much unsent output
    bool in_turn = false;    // ran requests this turn; their replies start at turn_out
    bool awaited = false;    // its writes were acknowledged by the last sync (Gather)
    size_t turn_out = 0;
    uint32_t interest = EPOLLIN;  // as registered with epoll
    explicit Client(const RespLimits& limits) : parser(limits) {}
    size_t unsent() const { return out.size() - out_pos; }
  };

  static CommandConfig MakeConfig(const Server& s) {
    CommandConfig c;
    c.requirepass = s.options_.requirepass;
    std::string host, port;
    SplitHostPort(s.options_.addr, &host, &port);
    c.bind_host = host;
    c.port = s.port_;
    c.maxclients = s.options_.maxclients;
    c.timeout_seconds = s.options_.timeout_seconds;
    c.max_bulk_len = s.options_.limits.max_bulk_len;
    c.max_args = s.options_.limits.max_args;
    c.max_query_buffer = s.options_.max_query_buffer;
    c.store_path = s.options_.store_path;
    return c;
  }

  void Dispatch(const epoll_event* events, int n);
  void Gather(std::vector<epoll_event>* events);
  void Accept();
  void Read(Client* c);
  void Process(Client* c);
  // Sends what it can; false when the client was closed.
  bool Flush(Client* c);
  void UpdateInterest(Client* c);
  void Close(Client* c);
  void EndTurn();
  void CloseIdle();
  void Drain();

  Server* server_;
  ServerStats stats_;
  Commands commands_;
  int ep_ = -1;
  uint64_t next_id_ = 1;
  std::unordered_map<int, std::unique_ptr<Client>> clients_;
  std::vector<int> touched_;  // clients with new output this turn
  std::vector<int> resume_;   // unpaused clients with input left to run
  size_t awaited_ = 0;        // clients with `awaited` set
  int64_t last_sync_ns_ = 0;  // how long the last sync of a turn took
  char read_buf_[64 * 1024];  // recv target; only the bytes received are copied on
};

Status Server::Loop::Run() {
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  if (ep_ < 0) return Status::IOError("epoll_create1", errno);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = server_->listen_fd_;
  epoll_ctl(ep_, EPOLL_CTL_ADD, server_->listen_fd_, &ev);
  ev.data.fd = server_->wake_fd_;
  epoll_ctl(ep_, EPOLL_CTL_ADD, server_->wake_fd_, &ev);

  std::vector<epoll_event> events(256);
  int64_t last_idle_check = MonotonicSeconds();
  while (!server_->stop_.load()) {
    int timeout_ms = resume_.empty() ? 1000 : 0;
    int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Status::IOError("epoll_wait", errno);
      close(ep_);
      return s;
    }
    std::vector<int> resume;
    resume.swap(resume_);
    for (int fd : resume) {
      auto it = clients_.find(fd);
      if (it != clients_.end()) Process(it->second.get());
    }
    Dispatch(events.data(), n);
    Gather(&events);
    EndTurn();
    if (server_->options_.timeout_seconds > 0 && MonotonicSeconds() != last_idle_check) {
      last_idle_check = MonotonicSeconds();
      CloseIdle();
    }
  }
  Drain();
  close(ep_);
  return Status::OK();
}

void Server::Loop::Dispatch(const epoll_event* events, int n) {
  for (int i = 0; i < n; ++i) {
    const int fd = events[i].data.fd;
    if (fd == server_->listen_fd_) {
      Accept();
      continue;
    }
    if (fd == server_->wake_fd_) continue;  // stop_ is checked by the loop
    auto it = clients_.find(fd);
    if (it == clients_.end()) continue;
    Client* c = it->second.get();
    if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      Read(c);
    } else if (events[i].events & EPOLLOUT) {
      touched_.push_back(fd);
    }
  }
}

// Before a turn that wrote is synced: the clients whose writes the last sync
// acknowledged usually write again as soon as they have their reply (a client
// that waits for each reply), a few microseconds after this turn began. Wait
// for them, at most half as long as the last sync took (and 1 ms), so
// that one fdatasync covers all the writers instead of two halves taking turns
// (each waiting for the other's sync; docs/Benchmarks.md, session 7). The wait
// yields the CPU, which the clients need to send. A lone client never waits.
void Server::Loop::Gather(std::vector<epoll_event>* events) {
  constexpr int64_t kMaxGatherNs = 1000000;
  if (!server_->options_.sync_before_reply || awaited_ == 0 || !commands_.Written()) return;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point until =
      Clock::now() + std::chrono::nanoseconds(std::min(last_sync_ns_ / 2, kMaxGatherNs));
  while (awaited_ > 0 && !server_->stop_.load() && Clock::now() < until) {
    const int n = epoll_wait(ep_, events->data(), static_cast<int>(events->size()), 0);
    if (n > 0) {
      Dispatch(events->data(), n);
    } else {
      sched_yield();
    }
  }
}

void Server::Loop::Accept() {
  while (true) {
    int fd = accept4(server_->listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or an error worth no more than a retry next turn
    ++stats_.total_connections_received;
    if (clients_.size() >= server_->options_.maxclients) {
      static const char kFull[] = "-ERR max number of clients reached\r\n";
      ssize_t ignored = send(fd, kFull, sizeof(kFull) - 1, MSG_NOSIGNAL);
      (void)ignored;
      close(fd);
      ++stats_.rejected_connections;
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Client>(server_->options_.limits);
    c->fd = fd;
    c->session.id = next_id_++;
    c->last_active = MonotonicSeconds();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      close(fd);
      continue;
    }
    clients_.emplace(fd, std::move(c));
    stats_.connected_clients = clients_.size();
  }
}

void Server::Loop::Read(Client* c) {
  if (c->awaited) {
    c->awaited = false;
    --awaited_;
  }
  // Up to 1 MiB per turn, so one busy client cannot starve the others.
  constexpr size_t kChunk = 64 * 1024;
  for (size_t total = 0; total < (1u << 20);) {
    ssize_t r = recv(c->fd, read_buf_, kChunk, 0);
    if (r > 0) c->in.append(read_buf_, static_cast<size_t>(r));
    if (r == 0) {
      // The peer shut down its side: answer what it sent, then close.
      Process(c);
      c->closing = true;
      touched_.push_back(c->fd);
      return;
    }
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      Close(c);  // the connection is broken: nobody to answer
      return;
    }
    if (r < 0) break;
    total += static_cast<size_t>(r);
    stats_.net_input_bytes += static_cast<uint64_t>(r);
    if (static_cast<size_t>(r) < kChunk) break;
  }
  c->last_active = MonotonicSeconds();
  Process(c);
}

void Server::Loop::Process(Client* c) {
  if (!c->in_turn) {
    c->in_turn = true;
    c->turn_out = c->out.size();  // nothing is sent before EndTurn
  }
  RespWriter out(&c->out);
  const size_t before = c->unsent();
  while (!c->closing && c->unsent() < kOutputHighWater) {
    size_t used = 0;
    RespParser::Result r =
        c->parser.Feed(c->in.data() + c->in_pos, c->in.size() - c->in_pos, &used);
    c->in_pos += used;
    if (r == RespParser::Result::kNeedMore) break;
    if (r == RespParser::Result::kError) {
      out.Error(c->parser.error());
      c->closing = true;
      break;
    }
    commands_.Execute(&c->session, &c->parser.argv(), &out);
    if (c->session.close_after_reply) c->closing = true;
  }
  // Drop consumed input; keep the tail of a request still arriving.
  if (c->in_pos == c->in.size()) {
    c->in.clear();
    c->in_pos = 0;
  } else if (c->in_pos > (64u << 10) && c->in_pos * 2 > c->in.size()) {
    c->in.erase(0, c->in_pos);
    c->in_pos = 0;
  }
  if (!c->closing &&
      c->in.size() - c->in_pos + c->parser.pending_bytes() > server_->options_.max_query_buffer) {
    out.Error("query buffer limit of " + std::to_string(server_->options_.max_query_buffer) +
              " bytes reached (client-query-buffer-limit); closing the connection");
    c->closing = true;
  }
  // Commands left unrun because of unsent output wait for the output to drain.
  c->paused = !c->closing && c->unsent() >= kOutputHighWater;
  if (c->unsent() != before || c->closing || c->paused) touched_.push_back(c->fd);
}

bool Server::Loop::Flush(Client* c) {
  while (c->unsent() > 0) {
    ssize_t w = send(c->fd, c->out.data() + c->out_pos, c->unsent(), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Close(c);
      return false;
    }
    c->out_pos += static_cast<size_t>(w);
    stats_.net_output_bytes += static_cast<uint64_t>(w);
  }
  if (c->unsent() == 0) {
    c->out.clear();
    c->out_pos = 0;
    if (c->closing) {
      Close(c);
      return false;
    }
    if (c->paused) {
      c->paused = false;
      if (c->in_pos < c->in.size()) resume_.push_back(c->fd);
    }
  } else if (c->out_pos > (1u << 20) && c->out_pos * 2 > c->out.size()) {
    c->out.erase(0, c->out_pos);
    c->out_pos = 0;
  }
  UpdateInterest(c);
  return true;
}

void Server::Loop::UpdateInterest(Client* c) {
  const bool want_write = c->unsent() > 0;
  const bool want_read = !c->paused && !c->closing;
  const uint32_t interest = (want_read ? EPOLLIN : 0u) | (want_write ? EPOLLOUT : 0u);
  if (interest == c->interest) return;
  epoll_event ev{};
  ev.events = interest;
  ev.data.fd = c->fd;
  epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
  c->interest = interest;
}

void Server::Loop::Close(Client* c) {
  if (c->awaited) --awaited_;
  epoll_ctl(ep_, EPOLL_CTL_DEL, c->fd, nullptr);
  close(c->fd);
  clients_.erase(c->fd);  // destroys c
  stats_.connected_clients = clients_.size();
}

void Server::Loop::EndTurn() {
  bool synced = false;
  if (commands_.TakeWritten() && server_->options_.sync_before_reply) {
    const auto start = std::chrono::steady_clock::now();
    Status s = server_->db_->Sync();
    last_sync_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    synced = s.ok();
    if (!s.ok()) {
      // The writes of this turn may not be durable: acknowledge none of them.
      // A client that wrote gets, instead of this turn's replies, one error
      // (for its first request of the turn) and is closed after it.
      const std::string error =
          "write not acknowledged: syncing the store failed (" + s.ToString() + ")";
      for (auto& kv : clients_) {
        Client* c = kv.second.get();
        if (!c->session.wrote) continue;
        c->out.resize(c->turn_out);
        RespWriter(&c->out).Error(error);
        c->closing = true;
        touched_.push_back(c->fd);
      }
    }
  }
  awaited_ = 0;
  for (auto& kv : clients_) {
    Client* c = kv.second.get();
    c->awaited = synced && c->session.wrote && !c->closing;
    awaited_ += c->awaited ? 1 : 0;
    c->session.wrote = false;
    c->in_turn = false;
  }
  std::vector<int> touched;
  touched.swap(touched_);
  for (int fd : touched) {
    auto it = clients_.find(fd);
    if (it != clients_.end()) Flush(it->second.get());
  }
}

void Server::Loop::CloseIdle() {
  const int64_t now = MonotonicSeconds();
  const int64_t limit = static_cast<int64_t>(server_->options_.timeout_seconds);
  std::vector<Client*> idle;
  for (auto& kv : clients_) {
    if (now - kv.second->last_active > limit) idle.push_back(kv.second.get());
  }
  for (Client* c : idle) Close(c);
}

// After Stop: no more accepting or reading; send the replies already made.
void Server::Loop::Drain() {
  epoll_ctl(ep_, EPOLL_CTL_DEL, server_->listen_fd_, nullptr);
  close(server_->listen_fd_);
  server_->listen_fd_ = -1;
  EndTurn();  // syncs this turn's writes before their replies go
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::vector<epoll_event> events(64);
  while (std::chrono::steady_clock::now() < deadline) {
    bool pending = false;
    std::vector<Client*> all;
    for (auto& kv : clients_) all.push_back(kv.second.get());
    for (Client* c : all) {
      c->paused = true;  // read nothing more
      if (Flush(c) && c->unsent() > 0) pending = true;
    }
    if (!pending) break;
    epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 100);
  }
  std::vector<Client*> all;
  for (auto& kv : clients_) all.push_back(kv.second.get());
  for (Client* c : all) Close(c);
}

// ---------------------------------------------------------------- Server

Server::Server(DB* db, ServerOptions options) : db_(db), options_(std::move(options)) {}

Server::~Server() {
  Stop();
  Wait();
  if (listen_fd_ >= 0) close(listen_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

Status Server::Start() {
  Status s = CheckListenAddress(options_.addr, options_.requirepass);
  if (!s.ok()) return s;
  AddrInfoList list;
  s = Resolve(options_.addr, &list);
  if (!s.ok()) return s;
  int err = 0;
  for (addrinfo* ai = list.head; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 511) != 0) {
      err = errno;
      close(fd);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof(bound);
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(bound.ss_family == AF_INET6
                      ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                      : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    SetNonBlocking(fd);
    listen_fd_ = fd;
    break;
  }
  if (listen_fd_ < 0) {
    return Status::IOError("cannot listen on " + options_.addr + ": " + std::strerror(err), err);
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return Status::IOError("eventfd", errno);
  loop_ = std::make_unique<Loop>(this);
  thread_ = std::thread([this] { loop_status_ = loop_->Run(); });
  return Status::OK();
}

void Server::Stop() {
  stop_.store(true);
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    ssize_t ignored = write(wake_fd_, &one, sizeof(one));
    (void)ignored;
  }
}

void Server::Wait() {
  if (thread_.joinable()) thread_.join();
  loop_.reset();  // joins a running BGREWRITEAOF merge
}

}  // namespace server
}  // namespace bitgask
