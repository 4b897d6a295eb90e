// Shared by the command handlers (commands.cc, string_commands.cc,
// key_commands.cc, admin_commands.cc); not part of the library's interface.
#ifndef BITGASK_SERVER_COMMANDS_INTERNAL_H_
#define BITGASK_SERVER_COMMANDS_INTERNAL_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bitgask/db.h"
#include "commands.h"
#include "resp_writer.h"

namespace bitgask {
namespace server {

struct Commands::State {
  DB* db = nullptr;
  CommandConfig* config = nullptr;
  ServerStats* stats = nullptr;
  std::function<void(std::string_view)> on_change;
  bool written = false;

  // SCAN cursors: Redis cursors are numbers, the engine's are keys. The most
  // recent kMaxCursors are remembered; an older one is "invalid cursor".
  static constexpr size_t kMaxCursors = 10000;
  uint64_t next_cursor_id = 1;
  std::unordered_map<uint64_t, std::string> cursors;
  std::deque<uint64_t> cursor_order;

  // BGREWRITEAOF: one merge at a time in its own thread.
  std::thread merge_thread;
  std::atomic<bool> merge_running{false};
};

// One request being executed.
struct Call {
  Commands::State& st;
  ClientSession& session;
  std::vector<std::string>& argv;
  RespWriter& out;

  DB* db() const { return st.db; }
  // Records that key changed (an empty key: every key) and tells on_change.
  void Changed(std::string_view key);
  // Replies "ERR <status>" for an engine failure.
  void EngineError(const Status& s);
};

using Handler = void (*)(Call&);

// Redis's strict integer syntax (no '+', spaces or leading zeros).
bool ParseInt64(std::string_view s, int64_t* out);
// Replies "value is not an integer or out of range" when s is not one.
bool ArgInt64(Call& c, std::string_view s, int64_t* out);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
int64_t NowUnixNs();
// Nanoseconds left until an absolute expiry (<= 0: already due).
int64_t RemainingNs(int64_t expires_unix_ns);

// Runs body in an optimistic transaction until it commits without Conflict.
// body returns false when it decided not to write (it made its reply); then
// nothing is committed. Returns the final commit status.
Status RunTransaction(DB* db, const std::function<bool(Transaction*)>& body);
// Reads key in t: *value is its value, or nullopt when absent. On an engine
// error it replies, sets *failed and returns false (the body then returns
// false too).
bool ReadForUpdate(Call& c, Transaction* t, std::string_view key,
                   std::optional<std::string>* value, bool* failed);
// Stages key=value in t with the current expiry (if any) of ttl_of, which
// is key itself unless given.
void PutKeepingTTL(DB* db, Transaction* t, std::string_view key, std::string_view value,
                   std::string_view ttl_of = {});

// Handlers, by file.
// string_commands.cc
void CmdGet(Call&);
void CmdSet(Call&);
void CmdSetNx(Call&);
void CmdSetEx(Call&);
void CmdPSetEx(Call&);
void CmdGetDel(Call&);
void CmdGetEx(Call&);
void CmdMGet(Call&);
void CmdMSet(Call&);
void CmdMSetNx(Call&);
void CmdStrlen(Call&);
void CmdAppend(Call&);
void CmdIncr(Call&);
void CmdDecr(Call&);
void CmdIncrBy(Call&);
void CmdDecrBy(Call&);
// key_commands.cc
void CmdDel(Call&);
void CmdExists(Call&);
void CmdType(Call&);
void CmdRename(Call&);
void CmdKeys(Call&);
void CmdScan(Call&);
void CmdTtl(Call&);
void CmdPTtl(Call&);
void CmdExpire(Call&);
void CmdPExpire(Call&);
void CmdExpireAt(Call&);
void CmdPExpireAt(Call&);
void CmdPersist(Call&);
void CmdDbSize(Call&);
// admin_commands.cc
void CmdFlush(Call&);
void CmdInfo(Call&);
void CmdConfig(Call&);
void CmdSave(Call&);
void CmdBgSave(Call&);
void CmdBgRewriteAof(Call&);
void CmdDebug(Call&);
// commands.cc (connection)
void CmdPing(Call&);
void CmdEcho(Call&);
void CmdQuit(Call&);
void CmdHello(Call&);
void CmdAuth(Call&);
void CmdSelect(Call&);
void CmdClient(Call&);
void CmdCommand(Call&);

}  // namespace server
}  // namespace bitgask

#endif  // BITGASK_SERVER_COMMANDS_INTERNAL_H_
