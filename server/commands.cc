// The command table, dispatch (lookup, arity, authentication) and the
// connection commands (PING ECHO QUIT HELLO AUTH SELECT CLIENT COMMAND).
#include "commands.h"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "commands_internal.h"

namespace bitgask {
namespace server {

namespace {

enum Flags : unsigned { kRead = 1, kWrite = 2, kNoAuth = 4, kAdmin = 8 };

struct Spec {
  const char* name;
  int arity;  // Redis style: n exactly n arguments (with the name), -n at least n
  unsigned flags;
  int first_key, last_key, key_step;  // for COMMAND
  Handler fn;
};

// Sorted by name for COMMAND's listing; looked up through a hash map.
const Spec kSpecs[] = {
    {"append", 3, kWrite, 1, 1, 1, CmdAppend},
    {"auth", -2, kNoAuth, 0, 0, 0, CmdAuth},
    {"bgrewriteaof", 1, kAdmin, 0, 0, 0, CmdBgRewriteAof},
    {"bgsave", -1, kAdmin, 0, 0, 0, CmdBgSave},
    {"client", -2, 0, 0, 0, 0, CmdClient},
    {"command", -1, 0, 0, 0, 0, CmdCommand},
    {"config", -2, kAdmin, 0, 0, 0, CmdConfig},
    {"dbsize", 1, kRead, 0, 0, 0, CmdDbSize},
    {"debug", -2, kAdmin, 0, 0, 0, CmdDebug},
    {"decr", 2, kWrite, 1, 1, 1, CmdDecr},
    {"decrby", 3, kWrite, 1, 1, 1, CmdDecrBy},
    {"del", -2, kWrite, 1, -1, 1, CmdDel},
    {"echo", 2, 0, 0, 0, 0, CmdEcho},
    {"exists", -2, kRead, 1, -1, 1, CmdExists},
    {"expire", -3, kWrite, 1, 1, 1, CmdExpire},
    {"expireat", -3, kWrite, 1, 1, 1, CmdExpireAt},
    {"flushall", -1, kWrite, 0, 0, 0, CmdFlush},
    {"flushdb", -1, kWrite, 0, 0, 0, CmdFlush},
    {"get", 2, kRead, 1, 1, 1, CmdGet},
    {"getdel", 2, kWrite, 1, 1, 1, CmdGetDel},
    {"getex", -2, kWrite, 1, 1, 1, CmdGetEx},
    {"hello", -1, kNoAuth, 0, 0, 0, CmdHello},
    {"incr", 2, kWrite, 1, 1, 1, CmdIncr},
    {"incrby", 3, kWrite, 1, 1, 1, CmdIncrBy},
    {"info", -1, 0, 0, 0, 0, CmdInfo},
    {"keys", 2, kRead, 0, 0, 0, CmdKeys},
    {"mget", -2, kRead, 1, -1, 1, CmdMGet},
    {"mset", -3, kWrite, 1, -1, 2, CmdMSet},
    {"msetnx", -3, kWrite, 1, -1, 2, CmdMSetNx},
    {"persist", 2, kWrite, 1, 1, 1, CmdPersist},
    {"pexpire", -3, kWrite, 1, 1, 1, CmdPExpire},
    {"pexpireat", -3, kWrite, 1, 1, 1, CmdPExpireAt},
    {"ping", -1, 0, 0, 0, 0, CmdPing},
    {"psetex", 4, kWrite, 1, 1, 1, CmdPSetEx},
    {"pttl", 2, kRead, 1, 1, 1, CmdPTtl},
    {"quit", -1, kNoAuth, 0, 0, 0, CmdQuit},
    {"rename", 3, kWrite, 1, 2, 1, CmdRename},
    {"save", 1, kAdmin, 0, 0, 0, CmdSave},
    {"scan", -2, kRead, 0, 0, 0, CmdScan},
    {"select", 2, 0, 0, 0, 0, CmdSelect},
    {"set", -3, kWrite, 1, 1, 1, CmdSet},
    {"setex", 4, kWrite, 1, 1, 1, CmdSetEx},
    {"setnx", 3, kWrite, 1, 1, 1, CmdSetNx},
    {"strlen", 2, kRead, 1, 1, 1, CmdStrlen},
    {"ttl", 2, kRead, 1, 1, 1, CmdTtl},
    {"type", 2, kRead, 1, 1, 1, CmdType},
    {"unlink", -2, kWrite, 1, -1, 1, CmdDel},
};

const Spec* Find(std::string_view lower_name) {
  static const auto* table = [] {
    auto* m = new std::unordered_map<std::string_view, const Spec*>();
    for (const Spec& s : kSpecs) m->emplace(s.name, &s);
    return m;
  }();
  auto it = table->find(lower_name);
  return it == table->end() ? nullptr : it->second;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

// Redis's "unknown command 'x', with args beginning with: 'a' 'b' ".
std::string UnknownCommand(const std::vector<std::string>& argv) {
  std::string msg = "unknown command '" + argv[0].substr(0, 128) + "', with args beginning with: ";
  for (size_t i = 1; i < argv.size() && msg.size() < 512; ++i) {
    msg += "'" + argv[i].substr(0, 128) + "' ";
  }
  return msg;
}

bool CheckPassword(const std::string& want, std::string_view got) {
  // Compare every byte whatever the first difference, so timing tells nothing.
  unsigned diff = want.size() == got.size() ? 0 : 1;
  for (size_t i = 0; i < got.size(); ++i) {
    diff |= static_cast<unsigned char>(got[i]) ^
            static_cast<unsigned char>(want.empty() ? 0 : want[i % want.size()]);
  }
  return diff == 0;
}

const char kWrongPass[] = "WRONGPASS invalid username-password pair or user is disabled.";

// AUTH [user] pass, and HELLO's AUTH: true when accepted (no reply made).
bool Authenticate(Call& c, std::string_view user, std::string_view pass) {
  if (c.st.config->requirepass.empty()) {
    c.out.Error("AUTH <password> called without any password configured for the default "
                "user. Are you sure your configuration is correct?");
    return false;
  }
  if (user != "default" || !CheckPassword(c.st.config->requirepass, pass)) {
    c.out.Error(kWrongPass);
    return false;
  }
  c.session.authenticated = true;
  return true;
}

}  // namespace

// ---------------------------------------------------------------- helpers

void Call::Changed(std::string_view key) {
  st.written = true;
  session.wrote = true;
  if (st.on_change) st.on_change(key);
}

void Call::EngineError(const Status& s) { out.Error(s.ToString()); }

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  size_t i = 0;
  bool neg = s[0] == '-';
  if (neg) ++i;
  if (i == s.size() || s[i] < '1' || s[i] > '9') {
    // Only "0" itself may start with a zero.
    if (s == "0") {
      *out = 0;
      return true;
    }
    return false;
  }
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (neg) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

bool ArgInt64(Call& c, std::string_view s, int64_t* out) {
  if (ParseInt64(s, out)) return true;
  c.out.Error("value is not an integer or out of range");
  return false;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

int64_t NowUnixNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t RemainingNs(int64_t expires_unix_ns) { return expires_unix_ns - NowUnixNs(); }

Status RunTransaction(DB* db, const std::function<bool(Transaction*)>& body) {
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Transaction> t = db->BeginTransaction();
    if (!body(t.get())) {
      t->Discard();
      return Status::OK();
    }
    Status s = t->Commit();
    if (!s.IsConflict() || attempt >= 10000) return s;
  }
}

bool ReadForUpdate(Call& c, Transaction* t, std::string_view key,
                   std::optional<std::string>* value, bool* failed) {
  std::string v;
  Status s = t->Get(key, &v);
  value->reset();
  if (s.ok()) {
    *value = std::move(v);
  } else if (!s.IsNotFound()) {
    c.EngineError(s);
    *failed = true;
    return false;
  }
  return true;
}

void PutKeepingTTL(DB* db, Transaction* t, std::string_view key, std::string_view value,
                   std::string_view ttl_of) {
  RecordMeta meta;
  int64_t left = 0;
  if (db->Meta(ttl_of.empty() ? key : ttl_of, &meta).ok() && meta.expires_unix_ns != 0) {
    left = RemainingNs(meta.expires_unix_ns);
  }
  if (left > 0) {
    t->PutWithTTL(key, value, std::chrono::nanoseconds(left));
  } else {
    t->Put(key, value);
  }
}

// ---------------------------------------------------------------- Commands

Commands::Commands(DB* db, CommandConfig config, ServerStats* stats,
                   std::function<void(std::string_view key)> on_change)
    : config_(std::move(config)), state_(new State) {
  state_->db = db;
  state_->config = &config_;
  state_->stats = stats;
  state_->on_change = std::move(on_change);
}

Commands::~Commands() {
  if (state_->merge_thread.joinable()) state_->merge_thread.join();
}

bool Commands::Written() const { return state_->written; }

bool Commands::TakeWritten() {
  bool w = state_->written;
  state_->written = false;
  return w;
}

void Commands::Execute(ClientSession* session, std::vector<std::string>* argv,
                       RespWriter* out) {
  const std::string name = Lower((*argv)[0]);
  const Spec* spec = Find(name);
  if (spec == nullptr) {
    out->Error(UnknownCommand(*argv));
    return;
  }
  const int argc = static_cast<int>(argv->size());
  if ((spec->arity > 0 && argc != spec->arity) || (spec->arity < 0 && argc < -spec->arity)) {
    out->Error("wrong number of arguments for '" + name + "' command");
    return;
  }
  if (!config_.requirepass.empty() && !session->authenticated && !(spec->flags & kNoAuth)) {
    out->Error("NOAUTH Authentication required.");
    return;
  }
  ++state_->stats->total_commands_processed;
  Call call{*state_, *session, *argv, *out};
  spec->fn(call);
}

// ---------------------------------------------------------------- connection

void CmdPing(Call& c) {
  if (c.argv.size() > 2) {
    c.out.Error("wrong number of arguments for 'ping' command");
  } else if (c.argv.size() == 2) {
    c.out.Bulk(c.argv[1]);
  } else {
    c.out.Simple("PONG");
  }
}

void CmdEcho(Call& c) { c.out.Bulk(c.argv[1]); }

void CmdQuit(Call& c) {
  c.session.close_after_reply = true;
  c.out.Ok();
}

void CmdAuth(Call& c) {
  if (c.argv.size() > 3) {
    c.out.Error("syntax error");
    return;
  }
  std::string_view user = c.argv.size() == 3 ? std::string_view(c.argv[1]) : "default";
  if (Authenticate(c, user, c.argv.back())) c.out.Ok();
}

void CmdHello(Call& c) {
  if (c.argv.size() >= 2) {
    int64_t ver = 0;
    if (!ParseInt64(c.argv[1], &ver)) {
      c.out.Error("Protocol version is not an integer or out of range");
      return;
    }
    if (ver != 2) {
      c.out.Error("NOPROTO unsupported protocol version");
      return;
    }
  }
  std::string setname;
  bool has_setname = false;
  for (size_t i = 2; i < c.argv.size(); ++i) {
    if (EqualsIgnoreCase(c.argv[i], "auth") && i + 2 < c.argv.size()) {
      if (!Authenticate(c, c.argv[i + 1], c.argv[i + 2])) return;
      i += 2;
    } else if (EqualsIgnoreCase(c.argv[i], "setname") && i + 1 < c.argv.size()) {
      setname = c.argv[++i];
      has_setname = true;
    } else {
      c.out.Error("Syntax error in HELLO option '" + c.argv[i] + "'");
      return;
    }
  }
  if (!c.st.config->requirepass.empty() && !c.session.authenticated) {
    c.out.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise "
                "the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the "
                "client and select the RESP protocol version at the same time");
    return;
  }
  if (has_setname) c.session.name = setname;
  c.out.ArrayHeader(14);
  c.out.Bulk("server");
  c.out.Bulk("redis");
  c.out.Bulk("version");
  c.out.Bulk("7.0.0");
  c.out.Bulk("proto");
  c.out.Integer(2);
  c.out.Bulk("id");
  c.out.Integer(static_cast<int64_t>(c.session.id));
  c.out.Bulk("mode");
  c.out.Bulk("standalone");
  c.out.Bulk("role");
  c.out.Bulk("master");
  c.out.Bulk("modules");
  c.out.ArrayHeader(0);
}

void CmdSelect(Call& c) {
  int64_t db = 0;
  if (!ArgInt64(c, c.argv[1], &db)) return;
  if (db != 0) {
    c.out.Error("DB index is out of range");
    return;
  }
  c.out.Ok();
}

void CmdClient(Call& c) {
  const std::string& sub = c.argv[1];
  auto arity = [&](size_t n) {
    if (c.argv.size() == n) return true;
    c.out.Error("wrong number of arguments for 'client|" + Lower(sub) + "' command");
    return false;
  };
  if (EqualsIgnoreCase(sub, "setname")) {
    if (!arity(3)) return;
    for (char ch : c.argv[2]) {
      if (ch < '!' || ch > '~') {
        c.out.Error("Client names cannot contain spaces, newlines or special characters.");
        return;
      }
    }
    c.session.name = c.argv[2];
    c.out.Ok();
  } else if (EqualsIgnoreCase(sub, "getname")) {
    if (!arity(2)) return;
    if (c.session.name.empty()) {
      c.out.Null();
    } else {
      c.out.Bulk(c.session.name);
    }
  } else if (EqualsIgnoreCase(sub, "setinfo")) {
    if (!arity(4)) return;
    if (!EqualsIgnoreCase(c.argv[2], "lib-name") && !EqualsIgnoreCase(c.argv[2], "lib-ver")) {
      c.out.Error("Unrecognized option '" + c.argv[2] + "'");
      return;
    }
    c.out.Ok();
  } else if (EqualsIgnoreCase(sub, "id")) {
    if (!arity(2)) return;
    c.out.Integer(static_cast<int64_t>(c.session.id));
  } else {
    c.out.Error("unknown subcommand '" + sub.substr(0, 128) + "'. Try CLIENT HELP.");
  }
}

namespace {

void ReplyCommandInfo(RespWriter& out, const Spec& s) {
  out.ArrayHeader(10);
  out.Bulk(s.name);
  out.Integer(s.arity);
  std::vector<const char*> flags;
  if (s.flags & kWrite) flags.push_back("write");
  if (s.flags & kRead) flags.push_back("readonly");
  if (s.flags & kAdmin) flags.push_back("admin");
  if (s.flags & kNoAuth) flags.push_back("no_auth");
  out.ArrayHeader(flags.size());
  for (const char* f : flags) out.Simple(f);
  out.Integer(s.first_key);
  out.Integer(s.last_key);
  out.Integer(s.key_step);
  for (int i = 0; i < 4; ++i) out.ArrayHeader(0);  // ACL categories, tips, key specs, subcommands
}

}  // namespace

void CmdCommand(Call& c) {
  if (c.argv.size() == 1) {
    c.out.ArrayHeader(std::size(kSpecs));
    for (const Spec& s : kSpecs) ReplyCommandInfo(c.out, s);
    return;
  }
  const std::string& sub = c.argv[1];
  if (EqualsIgnoreCase(sub, "count") && c.argv.size() == 2) {
    c.out.Integer(static_cast<int64_t>(std::size(kSpecs)));
  } else if (EqualsIgnoreCase(sub, "info")) {
    c.out.ArrayHeader(c.argv.size() - 2);
    for (size_t i = 2; i < c.argv.size(); ++i) {
      const Spec* s = Find(Lower(c.argv[i]));
      if (s == nullptr) {
        c.out.NullArray();
      } else {
        ReplyCommandInfo(c.out, *s);
      }
    }
  } else {
    // COMMAND DOCS among others: redis-cli then uses its built-in help.
    c.out.Error("unknown subcommand '" + sub.substr(0, 128) + "'. Try COMMAND HELP.");
  }
}

}  // namespace server
}  // namespace bitgask
