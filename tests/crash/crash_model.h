// The model the crash harnesses check a store against (tests/crash/).
//
// Each writer (a thread of the process under test, or a client connection)
// owns a fixed set of keys and has at most one operation in flight. A
// KeyModel holds the states those keys may be in: every acknowledged
// operation is applied to every candidate state; an operation that was in
// flight at the kill (begun, never acknowledged) may have happened whole or
// not at all, so it adds the candidates with it applied. After the kill and
// recovery, Check reads every key and keeps the candidates the store is
// consistent with; none left means a lost acknowledged write, a torn batch,
// a resurrected key or a corrupt value, and Check says which key and how.
//
// Expiry: a put with a TTL expires somewhere in a window (the TTL from the
// moment the call began to the moment it returned). A key read before the
// window must be there, read after it must be gone; inside it either.
//
// Not thread-safe: one model per writer, used by one thread.
#ifndef BITGASK_TESTS_CRASH_CRASH_MODEL_H_
#define BITGASK_TESTS_CRASH_CRASH_MODEL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bitgask {
namespace crash {

// The wall clock in Unix nanoseconds (the engine's POSIX Env uses the same).
int64_t WallNanos();

// One key in one possible state of the store.
struct KeyState {
  std::shared_ptr<const std::string> value;  // null: absent
  int64_t exp_lo = 0, exp_hi = 0;             // expires within [lo, hi]; 0, 0: never

  bool operator==(const KeyState& o) const;
};

// What one operation does to one key. The effects of an operation apply in
// order (a later effect on the same key wins, as in a WriteBatch) and
// together (an operation in flight applies whole or not at all).
struct Effect {
  enum Kind { kSet, kDelete, kIncr } kind = kSet;
  std::string key;
  std::shared_ptr<const std::string> value;  // kSet
  int64_t exp_lo = 0, exp_hi = 0;             // kSet: the expiry window
};

// What the store showed for a key, read between t0 and t1 (the store's clock).
struct Observed {
  bool present = false;
  std::string value;
  int64_t t0 = 0, t1 = 0;
  std::string error;  // not empty: the read failed (e.g. Corruption): never acceptable
};

class KeyModel {
 public:
  explicit KeyModel(std::vector<std::string> keys);

  const std::vector<std::string>& keys() const { return keys_; }
  size_t candidates() const { return cands_.size(); }

  void Acknowledged(const std::vector<Effect>& op);
  // An operation that may have happened whole or not at all.
  void InFlight(const std::vector<Effect>& op) { Prefixes({op}); }
  // Operations of which any prefix may have happened (acknowledged writes
  // not yet synced at a power cut, then the one in flight): the log is cut
  // at one point, so a later one never survives without the earlier ones.
  void Prefixes(const std::vector<std::vector<Effect>>& ops);

  // Reads every key with read and keeps the candidate states consistent with
  // what it returned. Returns "" when at least one is, else what differs.
  std::string Check(const std::function<Observed(const std::string& key)>& read);

 private:
  using State = std::map<std::string, KeyState>;  // absent keys are left out
  static void Apply(const std::vector<Effect>& op, State* s);
  void AddCandidate(State s);

  std::vector<std::string> keys_;
  std::vector<State> cands_;
};

// Printable summary of a value for failure messages: its size and first bytes.
std::string Describe(const std::string* value);

}  // namespace crash
}  // namespace bitgask

#endif  // BITGASK_TESTS_CRASH_CRASH_MODEL_H_
