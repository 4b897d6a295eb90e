// Server: serves the Redis protocol (RESP2) over an open bitgask::DB.
//
// One event-loop thread (epoll, level-triggered) accepts connections, reads
// requests, runs them inline on the DB through Commands and writes the
// replies. Pipelined requests are all run in the turn that read them and
// their replies leave in one write per connection per turn.
//
// Durability (sync_before_reply): when set, the server syncs the store once
// per loop turn, after running every request read in that turn and before
// sending any reply of that turn. So an acknowledged write is on disk, and
// all the writes of a turn (of every client) share one fdatasync. A turn that
// wrote first waits briefly (at most half the last sync's time, and 1 ms) for
// the clients the last sync acknowledged to send their next request, so that
// clients waiting for each reply share one sync instead of two. Open the DB
// with sync_on_put = sync_on_delete = false in that case (bitgaskd does). If
// the sync fails, every connection that wrote in that turn gets, instead of
// that turn's replies, one "-ERR write not acknowledged: ..." and is closed,
// so no write is acknowledged that may be lost.
//
// Limits: maxclients (a client over it gets "-ERR max number of clients
// reached" and is closed), RespLimits (protocol errors, then close),
// max_query_buffer (a client whose unparsed input exceeds it gets an error and
// is closed), idle timeout. A client whose unsent replies exceed
// kOutputHighWater is not read from until they drain (backpressure).
//
// Threads: Start() spawns the loop; Stop() may be called from any thread (it
// only sets a flag and writes an eventfd, so it is async-signal-safe); Wait()
// joins. on_change runs on the loop thread. The DB must outlive the Server
// and may be used by other threads meanwhile (the filesystem).
#ifndef BITGASK_SERVER_SERVER_H_
#define BITGASK_SERVER_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "bitgask/db.h"
#include "bitgask/status.h"
#include "resp_parser.h"

namespace bitgask {
namespace server {

struct ServerOptions {
  // host:port, [ipv6]:port; port 0 picks a free port (see Server::port()).
  std::string addr = "127.0.0.1:6380";
  // Password for AUTH; "" means none, which is allowed on loopback only.
  std::string requirepass;
  uint64_t maxclients = 10000;
  uint64_t timeout_seconds = 0;             // close clients idle this long; 0 = never
  RespLimits limits;                        // bulk length, argument count, inline line
  uint64_t max_query_buffer = 1ull << 30;   // unparsed input of one client
  bool sync_before_reply = false;           // see above
  std::string store_path;                   // shown by INFO and CONFIG GET dir
  // Called on the loop thread after a command changed key ("" : every key).
  std::function<void(std::string_view key)> on_change;
};

// Protected mode: OK when addr resolves only to loopback addresses or a
// password is set; otherwise InvalidArgument with a message that says why
// and what to do. Also InvalidArgument for an address that does not parse.
Status CheckListenAddress(const std::string& addr, const std::string& requirepass);

class Server {
 public:
  Server(DB* db, ServerOptions options);
  ~Server();  // Stop() and Wait()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Checks the address (CheckListenAddress), binds, listens and starts the
  // loop thread. IOError naming the address when it cannot bind.
  Status Start();
  // The port actually bound (after Start).
  int port() const { return port_; }
  // Stops accepting, sends the replies already made (for up to 5 seconds),
  // closes every connection and ends the loop. Does not close the DB.
  void Stop();
  void Wait();

  // Why the loop ended on its own (OK after Stop).
  Status loop_status() const { return loop_status_; }

  static constexpr size_t kOutputHighWater = 4u << 20;

 private:
  class Loop;
  DB* db_;
  ServerOptions options_;
  int port_ = 0;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Status loop_status_;
  std::unique_ptr<Loop> loop_;
};

}  // namespace server
}  // namespace bitgask

#endif  // BITGASK_SERVER_SERVER_H_
