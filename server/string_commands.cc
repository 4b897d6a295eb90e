// String commands: GET SET SETNX SETEX PSETEX GETDEL GETEX MGET MSET MSETNX
// STRLEN APPEND INCR DECR INCRBY DECRBY. Read-modify-write ones run as
// transactions (RunTransaction), so they are atomic against every writer.
#include <chrono>
#include <limits>
#include <optional>

#include "commands_internal.h"

namespace bitgask {
namespace server {

namespace {

// An expiry requested by SET/GETEX/SETEX: absolute, in unix nanoseconds.
// Parses "EX 10" style amounts; unit_ns is 1e9 (EX), 1e6 (PX); absolute
// says EXAT/PXAT. Replies "invalid expire time in '<cmd>' command" for
// amounts <= 0 or that overflow.
bool ParseExpiry(Call& c, std::string_view amount, int64_t unit_ns, bool absolute,
                 const char* cmd, int64_t* expires_unix_ns) {
  int64_t n = 0;
  if (!ArgInt64(c, amount, &n)) return false;
  const int64_t limit = std::numeric_limits<int64_t>::max() / unit_ns;
  const int64_t base = absolute ? 0 : NowUnixNs();
  if (n <= 0 || n > limit || n * unit_ns > std::numeric_limits<int64_t>::max() - base) {
    c.out.Error(std::string("invalid expire time in '") + cmd + "' command");
    return false;
  }
  *expires_unix_ns = base + n * unit_ns;
  return true;
}

// Stages key=value with the given absolute expiry (0: none) in t. An expiry
// already due deletes the key instead, as Redis does.
void StagePut(Transaction* t, std::string_view key, std::string_view value,
              int64_t expires_unix_ns) {
  if (expires_unix_ns == 0) {
    t->Put(key, value);
    return;
  }
  const int64_t left = RemainingNs(expires_unix_ns);
  if (left <= 0) {
    t->Delete(key);
  } else {
    t->PutWithTTL(key, value, std::chrono::nanoseconds(left));
  }
}

// Blind write with an optional absolute expiry (already-due: delete).
Status PutWithExpiry(DB* db, std::string_view key, std::string_view value,
                     int64_t expires_unix_ns) {
  if (expires_unix_ns != 0 && RemainingNs(expires_unix_ns) <= 0) return db->Delete(key);
  WriteOptions wo;
  wo.expires_at_unix_ns = expires_unix_ns;
  return db->Put(wo, key, value);
}

void IncrBy(Call& c, int64_t by) {
  const std::string& key = c.argv[1];
  int64_t result = 0;
  bool failed = false;  // the body replied with an error
  Status s = RunTransaction(c.db(), [&](Transaction* t) {
    std::optional<std::string> old;
    if (!ReadForUpdate(c, t, key, &old, &failed)) return false;
    int64_t cur = 0;
    if (old && !ParseInt64(*old, &cur)) {
      c.out.Error("value is not an integer or out of range");
      failed = true;
      return false;
    }
    if ((by > 0 && cur > std::numeric_limits<int64_t>::max() - by) ||
        (by < 0 && cur < std::numeric_limits<int64_t>::min() - by)) {
      c.out.Error("increment or decrement would overflow");
      failed = true;
      return false;
    }
    result = cur + by;
    PutKeepingTTL(c.db(), t, key, std::to_string(result));
    return true;
  });
  if (failed) return;
  if (!s.ok()) return c.EngineError(s);
  c.Changed(key);
  c.out.Integer(result);
}

}  // namespace

void CmdGet(Call& c) {
  std::string value;
  Status s = c.db()->Get(c.argv[1], &value);
  if (s.ok()) {
    ++c.st.stats->keyspace_hits;
    c.out.Bulk(value);
  } else if (s.IsNotFound()) {
    ++c.st.stats->keyspace_misses;
    c.out.Null();
  } else {
    c.EngineError(s);
  }
}

void CmdSet(Call& c) {
  const std::string& key = c.argv[1];
  const std::string& value = c.argv[2];
  bool nx = false, xx = false, get = false, keepttl = false, has_expiry = false;
  int64_t expires = 0;
  for (size_t i = 3; i < c.argv.size(); ++i) {
    const std::string& a = c.argv[i];
    const bool has_next = i + 1 < c.argv.size();
    if (EqualsIgnoreCase(a, "nx") && !xx) {
      nx = true;
    } else if (EqualsIgnoreCase(a, "xx") && !nx) {
      xx = true;
    } else if (EqualsIgnoreCase(a, "get")) {
      get = true;
    } else if (EqualsIgnoreCase(a, "keepttl") && !has_expiry) {
      keepttl = true;
    } else if (!keepttl && !has_expiry && has_next &&
               (EqualsIgnoreCase(a, "ex") || EqualsIgnoreCase(a, "px") ||
                EqualsIgnoreCase(a, "exat") || EqualsIgnoreCase(a, "pxat"))) {
      const bool seconds = a[0] == 'e' || a[0] == 'E';
      const bool absolute = a.size() == 4;
      if (!ParseExpiry(c, c.argv[++i], seconds ? 1000000000 : 1000000, absolute, "set",
                       &expires)) {
        return;
      }
      has_expiry = true;
    } else {
      c.out.Error("syntax error");
      return;
    }
  }
  if (!nx && !xx && !get) {
    // Blind write: no read needed (KEEPTTL reads the expiry from the keydir).
    if (keepttl) {
      RecordMeta meta;
      if (c.db()->Meta(key, &meta).ok()) expires = meta.expires_unix_ns;
    }
    Status s = PutWithExpiry(c.db(), key, value, expires);
    if (!s.ok()) return c.EngineError(s);
    c.Changed(key);
    c.out.Ok();
    return;
  }
  std::optional<std::string> old;
  bool wrote = false, failed = false;
  Status s = RunTransaction(c.db(), [&](Transaction* t) {
    if (!ReadForUpdate(c, t, key, &old, &failed)) return false;
    wrote = !((nx && old) || (xx && !old));
    if (!wrote) return true;  // commit the read alone: the answer holds at commit time
    if (keepttl) {
      PutKeepingTTL(c.db(), t, key, value);
    } else {
      StagePut(t, key, value, expires);
    }
    return true;
  });
  if (failed) return;
  if (!s.ok()) return c.EngineError(s);
  if (wrote) c.Changed(key);
  if (get) {
    if (old) {
      c.out.Bulk(*old);
    } else {
      c.out.Null();
    }
  } else if (wrote) {
    c.out.Ok();
  } else {
    c.out.Null();
  }
}

void CmdSetNx(Call& c) {
  Status s = c.db()->PutIfAbsent(c.argv[1], c.argv[2]);
  if (s.IsConflict()) return c.out.Integer(0);
  if (!s.ok()) return c.EngineError(s);
  c.Changed(c.argv[1]);
  c.out.Integer(1);
}

namespace {

void SetWithExpiry(Call& c, int64_t unit_ns, const char* cmd) {
  int64_t expires = 0;
  if (!ParseExpiry(c, c.argv[2], unit_ns, false, cmd, &expires)) return;
  Status s = PutWithExpiry(c.db(), c.argv[1], c.argv[3], expires);
  if (!s.ok()) return c.EngineError(s);
  c.Changed(c.argv[1]);
  c.out.Ok();
}

}  // namespace

void CmdSetEx(Call& c) { SetWithExpiry(c, 1000000000, "setex"); }
void CmdPSetEx(Call& c) { SetWithExpiry(c, 1000000, "psetex"); }

void CmdGetDel(Call& c) {
  const std::string& key = c.argv[1];
  std::optional<std::string> old;
  bool failed = false;
  Status s = RunTransaction(c.db(), [&](Transaction* t) {
    if (!ReadForUpdate(c, t, key, &old, &failed) || !old) return false;
    t->Delete(key);
    return true;
  });
  if (failed) return;
  if (!s.ok()) return c.EngineError(s);
  if (!old) return c.out.Null();
  c.Changed(key);
  c.out.Bulk(*old);
}

void CmdGetEx(Call& c) {
  const std::string& key = c.argv[1];
  int64_t expires = 0;
  bool persist = false;
  for (size_t i = 2; i < c.argv.size(); ++i) {
    const std::string& a = c.argv[i];
    const bool one_option = c.argv.size() == (EqualsIgnoreCase(a, "persist") ? 3u : 4u);
    if (EqualsIgnoreCase(a, "persist") && one_option) {
      persist = true;
    } else if (one_option && (EqualsIgnoreCase(a, "ex") || EqualsIgnoreCase(a, "px") ||
                              EqualsIgnoreCase(a, "exat") || EqualsIgnoreCase(a, "pxat"))) {
      const bool seconds = a[0] == 'e' || a[0] == 'E';
      if (!ParseExpiry(c, c.argv[++i], seconds ? 1000000000 : 1000000, a.size() == 4, "getex",
                       &expires)) {
        return;
      }
    } else {
      c.out.Error("syntax error");
      return;
    }
  }
  std::string value;
  Status s = c.db()->Get(key, &value);
  if (s.IsNotFound()) return c.out.Null();
  if (!s.ok()) return c.EngineError(s);
  if (persist || expires != 0) {
    if (persist) {
      RecordMeta meta;
      if (c.db()->Meta(key, &meta).ok() && meta.expires_unix_ns != 0) s = c.db()->Persist(key);
    } else if (RemainingNs(expires) <= 0) {
      s = c.db()->Delete(key);
    } else {
      s = c.db()->ExpireAt(key, expires);
    }
    if (s.IsNotFound()) return c.out.Null();  // removed meanwhile
    if (!s.ok()) return c.EngineError(s);
    c.Changed(key);
  }
  c.out.Bulk(value);
}

void CmdMGet(Call& c) {
  c.out.ArrayHeader(c.argv.size() - 1);
  std::string value;
  for (size_t i = 1; i < c.argv.size(); ++i) {
    Status s = c.db()->Get(c.argv[i], &value);
    if (s.ok()) {
      c.out.Bulk(value);
    } else {
      // An engine error cannot be one element of a RESP2 array of bulks;
      // MGET answers nil for it, as for a missing key.
      c.out.Null();
    }
  }
}

void CmdMSet(Call& c) {
  if (c.argv.size() % 2 == 0) {
    c.out.Error("wrong number of arguments for 'mset' command");
    return;
  }
  WriteBatch batch;
  for (size_t i = 1; i + 1 < c.argv.size(); i += 2) batch.Put(c.argv[i], c.argv[i + 1]);
  Status s = c.db()->Write(WriteOptions(), batch);
  if (!s.ok()) return c.EngineError(s);
  for (size_t i = 1; i + 1 < c.argv.size(); i += 2) c.Changed(c.argv[i]);
  c.out.Ok();
}

void CmdMSetNx(Call& c) {
  if (c.argv.size() % 2 == 0) {
    c.out.Error("wrong number of arguments for 'msetnx' command");
    return;
  }
  bool all_absent = false, failed = false;
  Status s = RunTransaction(c.db(), [&](Transaction* t) {
    all_absent = true;
    std::string v;
    for (size_t i = 1; i + 1 < c.argv.size(); i += 2) {
      Status g = t->Get(c.argv[i], &v);
      if (g.ok()) {
        all_absent = false;
        return false;
      }
      if (!g.IsNotFound()) {
        c.EngineError(g);
        failed = true;
        return false;
      }
    }
    for (size_t i = 1; i + 1 < c.argv.size(); i += 2) t->Put(c.argv[i], c.argv[i + 1]);
    return true;
  });
  if (failed) return;
  if (!s.ok()) return c.EngineError(s);
  if (!all_absent) return c.out.Integer(0);
  for (size_t i = 1; i + 1 < c.argv.size(); i += 2) c.Changed(c.argv[i]);
  c.out.Integer(1);
}

void CmdStrlen(Call& c) {
  RecordMeta meta;
  Status s = c.db()->Meta(c.argv[1], &meta);
  if (s.IsNotFound()) return c.out.Integer(0);
  if (!s.ok()) return c.EngineError(s);
  c.out.Integer(meta.value_size);
}

void CmdAppend(Call& c) {
  const std::string& key = c.argv[1];
  size_t length = 0;
  bool failed = false;
  Status s = RunTransaction(c.db(), [&](Transaction* t) {
    std::optional<std::string> old;
    if (!ReadForUpdate(c, t, key, &old, &failed)) return false;
    std::string v = old ? std::move(*old) : std::string();
    v.append(c.argv[2]);
    length = v.size();
    PutKeepingTTL(c.db(), t, key, v);
    return true;
  });
  if (failed) return;
  if (!s.ok()) return c.EngineError(s);
  c.Changed(key);
  c.out.Integer(static_cast<int64_t>(length));
}

void CmdIncr(Call& c) { IncrBy(c, 1); }
void CmdDecr(Call& c) { IncrBy(c, -1); }

void CmdIncrBy(Call& c) {
  int64_t by = 0;
  if (ArgInt64(c, c.argv[2], &by)) IncrBy(c, by);
}

void CmdDecrBy(Call& c) {
  int64_t by = 0;
  if (!ArgInt64(c, c.argv[2], &by)) return;
  if (by == std::numeric_limits<int64_t>::min()) {
    c.out.Error("decrement would overflow");
    return;
  }
  IncrBy(c, -by);
}

}  // namespace server
}  // namespace bitgask
