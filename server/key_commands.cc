// Key commands: DEL UNLINK EXISTS TYPE RENAME KEYS SCAN TTL PTTL EXPIRE
// PEXPIRE EXPIREAT PEXPIREAT PERSIST DBSIZE.
#include <limits>
#include <unordered_set>

#include "commands_internal.h"
#include "glob.h"

namespace bitgask {
namespace server {

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Walks keys in byte order from just after `after` ("" : the start), calling
// fn for each key that matches pattern, until fn returns false, `limit` keys
// were examined (0: no limit) or the keys run out. The pattern's literal
// prefix bounds the walk. *next is where to resume ("" : done).
Status WalkMatching(DB* db, std::string after, std::string_view pattern, size_t limit,
                    const std::function<void(const std::string&)>& fn, std::string* next) {
  const std::string_view prefix = GlobLiteralPrefix(pattern);
  next->clear();
  size_t examined = 0;
  if (!prefix.empty() && after < prefix) {
    // Jump to the prefix; the walk below starts after it, so look at it first.
    if (db->Has(prefix) && GlobMatch(pattern, prefix)) fn(std::string(prefix));
    ++examined;
    after = std::string(prefix);
  }
  std::vector<std::string> keys;
  std::string cursor;
  while (true) {
    const size_t want = limit == 0 ? 1024 : std::max<size_t>(1, limit - std::min(limit, examined));
    Status s = db->ScanKeys(after, want, &keys, &cursor);
    if (!s.ok()) return s;
    for (const std::string& k : keys) {
      if (!StartsWith(k, prefix)) return Status::OK();  // past the prefix: done
      if (GlobMatch(pattern, k)) fn(k);
    }
    examined += keys.size();
    if (cursor.empty()) return Status::OK();
    after = cursor;
    if (limit != 0 && examined >= limit) {
      *next = after;
      return Status::OK();
    }
  }
}

// TTL in nanoseconds: -2 missing, -1 no expiry, else >= 0.
int64_t TtlNs(Call& c, Status* s) {
  RecordMeta meta;
  *s = c.db()->Meta(c.argv[1], &meta);
  if (s->IsNotFound()) {
    *s = Status::OK();
    return -2;
  }
  if (!s->ok()) return 0;
  if (meta.expires_unix_ns == 0) return -1;
  return std::max<int64_t>(0, RemainingNs(meta.expires_unix_ns));
}

// EXPIRE family. amount is in units of unit_ns, relative or absolute.
void ExpireGeneric(Call& c, int64_t unit_ns, bool absolute, const char* cmd) {
  const std::string& key = c.argv[1];
  int64_t n = 0;
  if (!ArgInt64(c, c.argv[2], &n)) return;
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t i = 3; i < c.argv.size(); ++i) {
    const std::string& a = c.argv[i];
    if (EqualsIgnoreCase(a, "nx")) {
      nx = true;
    } else if (EqualsIgnoreCase(a, "xx")) {
      xx = true;
    } else if (EqualsIgnoreCase(a, "gt")) {
      gt = true;
    } else if (EqualsIgnoreCase(a, "lt")) {
      lt = true;
    } else {
      c.out.Error("Unsupported option " + a);
      return;
    }
  }
  if (nx && (xx || gt || lt)) {
    c.out.Error("NX and XX, GT or LT options at the same time are not compatible");
    return;
  }
  if (gt && lt) {
    c.out.Error("GT and LT options at the same time are not compatible");
    return;
  }
  const int64_t base = absolute ? 0 : NowUnixNs();
  const int64_t max = std::numeric_limits<int64_t>::max();
  if (n > max / unit_ns || n < -(max / unit_ns) || (n > 0 && n * unit_ns > max - base)) {
    c.out.Error(std::string("invalid expire time in '") + cmd + "' command");
    return;
  }
  const int64_t when = base + n * unit_ns;
  RecordMeta meta;
  Status s = c.db()->Meta(key, &meta);
  if (s.IsNotFound()) return c.out.Integer(0);
  if (!s.ok()) return c.EngineError(s);
  const bool has = meta.expires_unix_ns != 0;
  // No expiry counts as an infinite one for GT and LT.
  if ((nx && has) || (xx && !has) || (gt && (!has || when <= meta.expires_unix_ns)) ||
      (lt && has && when >= meta.expires_unix_ns)) {
    return c.out.Integer(0);
  }
  s = when <= NowUnixNs() ? c.db()->Delete(key) : c.db()->ExpireAt(key, when);
  if (s.IsNotFound()) return c.out.Integer(0);
  if (!s.ok()) return c.EngineError(s);
  c.Changed(key);
  c.out.Integer(1);
}

}  // namespace

void CmdDel(Call& c) {
  WriteBatch batch;
  std::unordered_set<std::string_view> seen;  // DEL k k removes (and counts) k once
  for (size_t i = 1; i < c.argv.size(); ++i) {
    if (seen.insert(c.argv[i]).second && c.db()->Has(c.argv[i])) batch.Delete(c.argv[i]);
  }
  if (batch.Count() > 0) {
    Status s = c.db()->Write(WriteOptions(), batch);
    if (!s.ok()) return c.EngineError(s);
    for (const auto& op : batch.ops()) c.Changed(op.key);
  }
  c.out.Integer(static_cast<int64_t>(batch.Count()));
}

void CmdExists(Call& c) {
  int64_t n = 0;
  for (size_t i = 1; i < c.argv.size(); ++i) n += c.db()->Has(c.argv[i]) ? 1 : 0;
  c.out.Integer(n);
}

void CmdType(Call& c) { c.out.Simple(c.db()->Has(c.argv[1]) ? "string" : "none"); }

void CmdRename(Call& c) {
  const std::string& src = c.argv[1];
  const std::string& dst = c.argv[2];
  if (src == dst) {
    if (c.db()->Has(src)) return c.out.Ok();
    return c.out.Error("no such key");
  }
  // One atomic batch; Copy moves the value with its expiry (and mode bits)
  // without reading it, and fails with NotFound, writing nothing, when src
  // is absent.
  WriteBatch batch;
  batch.Copy(src, dst);
  batch.Delete(src);
  Status s = c.db()->Write(WriteOptions(), batch);
  if (s.IsNotFound()) return c.out.Error("no such key");
  if (!s.ok()) return c.EngineError(s);
  c.Changed(src);
  c.Changed(dst);
  c.out.Ok();
}

void CmdKeys(Call& c) {
  std::vector<std::string> found;
  std::string next;
  Status s = WalkMatching(
      c.db(), "", c.argv[1], 0, [&](const std::string& k) { found.push_back(k); }, &next);
  if (!s.ok()) return c.EngineError(s);
  c.out.ArrayHeader(found.size());
  for (const std::string& k : found) c.out.Bulk(k);
}

void CmdScan(Call& c) {
  int64_t cursor = 0;
  if (!ParseInt64(c.argv[1], &cursor) || cursor < 0) {
    c.out.Error("invalid cursor");
    return;
  }
  std::string pattern = "*";
  int64_t count = 10;
  bool other_type = false;
  for (size_t i = 2; i < c.argv.size(); i += 2) {
    if (i + 1 >= c.argv.size()) {
      c.out.Error("syntax error");
      return;
    }
    const std::string& a = c.argv[i];
    if (EqualsIgnoreCase(a, "match")) {
      pattern = c.argv[i + 1];
    } else if (EqualsIgnoreCase(a, "count")) {
      if (!ArgInt64(c, c.argv[i + 1], &count)) return;
      if (count < 1) {
        c.out.Error("syntax error");
        return;
      }
    } else if (EqualsIgnoreCase(a, "type")) {
      other_type = !EqualsIgnoreCase(c.argv[i + 1], "string");
    } else {
      c.out.Error("syntax error");
      return;
    }
  }
  std::string after;
  if (cursor != 0) {
    auto it = c.st.cursors.find(static_cast<uint64_t>(cursor));
    if (it == c.st.cursors.end()) {
      c.out.Error("invalid cursor");
      return;
    }
    after = it->second;
  }
  std::vector<std::string> found;
  std::string next;
  Status s = WalkMatching(
      c.db(), after, pattern, static_cast<size_t>(count),
      [&](const std::string& k) { found.push_back(k); }, &next);
  if (!s.ok()) return c.EngineError(s);
  if (other_type) found.clear();  // every value is a string
  uint64_t next_id = 0;
  if (!next.empty()) {
    next_id = c.st.next_cursor_id++;
    c.st.cursors.emplace(next_id, std::move(next));
    c.st.cursor_order.push_back(next_id);
    if (c.st.cursor_order.size() > Commands::State::kMaxCursors) {
      c.st.cursors.erase(c.st.cursor_order.front());
      c.st.cursor_order.pop_front();
    }
  }
  c.out.ArrayHeader(2);
  c.out.Bulk(std::to_string(next_id));
  c.out.ArrayHeader(found.size());
  for (const std::string& k : found) c.out.Bulk(k);
}

void CmdTtl(Call& c) {
  Status s;
  int64_t ns = TtlNs(c, &s);
  if (!s.ok()) return c.EngineError(s);
  // Rounded to the nearest second, as Redis does.
  c.out.Integer(ns < 0 ? ns : (ns / 1000000 + 500) / 1000);
}

void CmdPTtl(Call& c) {
  Status s;
  int64_t ns = TtlNs(c, &s);
  if (!s.ok()) return c.EngineError(s);
  c.out.Integer(ns < 0 ? ns : ns / 1000000);
}

void CmdExpire(Call& c) { ExpireGeneric(c, 1000000000, false, "expire"); }
void CmdPExpire(Call& c) { ExpireGeneric(c, 1000000, false, "pexpire"); }
void CmdExpireAt(Call& c) { ExpireGeneric(c, 1000000000, true, "expireat"); }
void CmdPExpireAt(Call& c) { ExpireGeneric(c, 1000000, true, "pexpireat"); }

void CmdPersist(Call& c) {
  RecordMeta meta;
  Status s = c.db()->Meta(c.argv[1], &meta);
  if (s.IsNotFound() || (s.ok() && meta.expires_unix_ns == 0)) return c.out.Integer(0);
  if (s.ok()) s = c.db()->Persist(c.argv[1]);
  if (s.IsNotFound()) return c.out.Integer(0);
  if (!s.ok()) return c.EngineError(s);
  c.Changed(c.argv[1]);
  c.out.Integer(1);
}

void CmdDbSize(Call& c) {
  DBStats stats;
  Status s = c.db()->Stats(&stats);
  if (!s.ok()) return c.EngineError(s);
  c.out.Integer(static_cast<int64_t>(stats.keys));
}

}  // namespace server
}  // namespace bitgask
