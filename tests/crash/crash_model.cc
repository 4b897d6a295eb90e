#include "crash_model.h"

#include <algorithm>
#include <chrono>
#include <sstream>

namespace bitgask {
namespace crash {

int64_t WallNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool KeyState::operator==(const KeyState& o) const {
  if (!value || !o.value) return !value && !o.value;
  return exp_lo == o.exp_lo && exp_hi == o.exp_hi && *value == *o.value;
}

std::string Describe(const std::string* value) {
  if (value == nullptr) return "absent";
  std::ostringstream os;
  os << value->size() << " bytes \"";
  for (size_t i = 0; i < value->size() && i < 24; i++) {
    const unsigned char c = static_cast<unsigned char>((*value)[i]);
    if (c >= 32 && c < 127) {
      os << c;
    } else {
      os << "\\x" << "0123456789abcdef"[c >> 4] << "0123456789abcdef"[c & 15];
    }
  }
  os << (value->size() > 24 ? "...\"" : "\"");
  return os.str();
}

namespace {

// Whether the candidate state of a key (null: absent) explains a read.
bool Matches(const KeyState* ks, const Observed& o) {
  if (!o.error.empty()) return false;
  if (ks == nullptr) return !o.present;
  // Expired means expiry <= now, for some expiry in [lo, hi] and now in [t0, t1].
  const bool maybe_live = ks->exp_hi == 0 || o.t0 < ks->exp_hi;
  const bool maybe_expired = ks->exp_hi != 0 && ks->exp_lo <= o.t1;
  if (o.present) return maybe_live && o.value == *ks->value;
  return maybe_expired;
}

std::string DescribeState(const KeyState* ks) {
  if (ks == nullptr) return "absent";
  std::string s = Describe(ks->value.get());
  if (ks->exp_hi != 0) {
    s += " expiring in [" + std::to_string(ks->exp_lo) + ", " + std::to_string(ks->exp_hi) + "]";
  }
  return s;
}

}  // namespace

KeyModel::KeyModel(std::vector<std::string> keys) : keys_(std::move(keys)) {
  cands_.emplace_back();
}

void KeyModel::Apply(const std::vector<Effect>& op, State* s) {
  for (const Effect& e : op) {
    switch (e.kind) {
      case Effect::kSet:
        (*s)[e.key] = KeyState{e.value, e.exp_lo, e.exp_hi};
        break;
      case Effect::kDelete:
        s->erase(e.key);
        break;
      case Effect::kIncr: {
        auto it = s->find(e.key);
        long long n = it == s->end() ? 0 : std::stoll(*it->second.value);
        KeyState next;
        if (it != s->end()) next = it->second;
        next.value = std::make_shared<const std::string>(std::to_string(n + 1));
        (*s)[e.key] = next;
        break;
      }
    }
  }
}

void KeyModel::AddCandidate(State s) {
  if (std::find(cands_.begin(), cands_.end(), s) == cands_.end()) cands_.push_back(std::move(s));
}

void KeyModel::Acknowledged(const std::vector<Effect>& op) {
  std::vector<State> old;
  old.swap(cands_);
  for (State& s : old) {
    Apply(op, &s);
    AddCandidate(std::move(s));
  }
}

void KeyModel::Prefixes(const std::vector<std::vector<Effect>>& ops) {
  const size_t n = cands_.size();
  for (size_t i = 0; i < n; i++) {
    State s = cands_[i];
    for (const std::vector<Effect>& op : ops) {
      Apply(op, &s);
      AddCandidate(s);
    }
  }
}

std::string KeyModel::Check(const std::function<Observed(const std::string& key)>& read) {
  std::map<std::string, Observed> seen;
  for (const std::string& k : keys_) seen[k] = read(k);
  std::vector<State> kept;
  std::ostringstream why;
  for (size_t c = 0; c < cands_.size(); c++) {
    State& s = cands_[c];
    bool ok = true;
    for (const auto& [k, o] : seen) {
      auto it = s.find(k);
      const KeyState* ks = it == s.end() ? nullptr : &it->second;
      if (Matches(ks, o)) continue;
      ok = false;
      if (c < 3) {
        why << "\n  candidate " << c + 1 << " of " << cands_.size() << ": key " << k
            << ": the store has "
            << (!o.error.empty() ? "an error: " + o.error
                                 : Describe(o.present ? &o.value : nullptr))
            << " (read in [" << o.t0 << ", " << o.t1 << "]), expected " << DescribeState(ks);
      }
      break;
    }
    if (!ok) continue;
    // Keys now surely expired are absent in this state from here on.
    for (auto it = s.begin(); it != s.end();) {
      if (it->second.exp_hi != 0 && it->second.exp_hi <= seen[it->first].t0) {
        it = s.erase(it);
      } else {
        ++it;
      }
    }
    if (std::find(kept.begin(), kept.end(), s) == kept.end()) kept.push_back(std::move(s));
  }
  if (kept.empty()) return "no acknowledged state explains the store:" + why.str();
  cands_ = std::move(kept);
  return "";
}

}  // namespace crash
}  // namespace bitgask
