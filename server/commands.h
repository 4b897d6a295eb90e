// Commands: the table of Redis commands bitgaskd serves over a bitgask::DB.
//
// Contracts:
//   * Execute() runs one request and appends exactly one reply to the writer.
//     Errors use Redis's wording ("ERR wrong number of arguments for 'get'
//     command", "NOAUTH Authentication required.", ...); engine failures are
//     "ERR <Status::ToString()>". A bad request never changes the store.
//   * Read-modify-write commands (INCR*, APPEND, SET NX/XX/GET, GETDEL,
//     MSETNX, SETNX, RENAME) are atomic against every other writer of the
//     same DB, also writers outside this server (the filesystem): they run as
//     optimistic transactions retried on Conflict, conditional writes, or
//     one WriteBatch.
//   * After a command changes a key, on_change(key) is called (an empty key
//     means "every key": FLUSHDB/FLUSHALL), on the calling thread, after the
//     change is in the store. Written() tells the server a change happened
//     since the last TakeWritten(), so it can sync before replying.
//   * Not thread-safe: one Commands per server, used by its event-loop thread
//     only. BGREWRITEAOF runs a merge in a thread of its own; the destructor
//     waits for it.
#ifndef BITGASK_SERVER_COMMANDS_H_
#define BITGASK_SERVER_COMMANDS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bitgask/db.h"
#include "resp_writer.h"

namespace bitgask {
namespace server {

// Counters the server keeps and INFO reports. Touched by the loop thread only.
struct ServerStats {
  int64_t start_unix_ns = 0;
  uint64_t connected_clients = 0;
  uint64_t total_connections_received = 0;
  uint64_t rejected_connections = 0;
  uint64_t total_commands_processed = 0;
  uint64_t keyspace_hits = 0, keyspace_misses = 0;
  uint64_t net_input_bytes = 0, net_output_bytes = 0;
};

// What the commands report (INFO, CONFIG GET) and enforce (AUTH).
struct CommandConfig {
  std::string requirepass;        // "" : no password
  std::string bind_host;
  int port = 0;
  uint64_t maxclients = 0;
  uint64_t timeout_seconds = 0;
  uint64_t max_bulk_len = 0;
  uint64_t max_args = 0;
  uint64_t max_query_buffer = 0;
  std::string store_path;         // for CONFIG GET dir and INFO
};

// One connection's state that commands read and change.
struct ClientSession {
  uint64_t id = 0;
  std::string name;               // CLIENT SETNAME
  bool authenticated = false;
  bool close_after_reply = false; // QUIT
  bool wrote = false;             // changed the store since the server last synced
};

class Commands {
 public:
  Commands(DB* db, CommandConfig config, ServerStats* stats,
           std::function<void(std::string_view key)> on_change);
  ~Commands();
  Commands(const Commands&) = delete;
  Commands& operator=(const Commands&) = delete;

  void Execute(ClientSession* session, std::vector<std::string>* argv, RespWriter* out);

  // True when a command changed the store since the last call; resets.
  bool TakeWritten();
  bool Written() const;  // as TakeWritten, without resetting
  CommandConfig* config() { return &config_; }

  struct State;  // shared by the handlers (commands_internal.h)

 private:
  CommandConfig config_;
  std::unique_ptr<State> state_;
};

}  // namespace server
}  // namespace bitgask

#endif  // BITGASK_SERVER_COMMANDS_H_
