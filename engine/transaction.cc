// Optimistic transactions: reads are recorded, writes buffered; Commit writes
// the buffered writes as one atomic batch on condition that every recorded
// read still holds (checked by the commit leader, so nothing can change
// between the check and the write).
#include <map>
#include <optional>

#include "db_impl.h"

namespace bitgask {
namespace internal {

namespace {

class TransactionImpl final : public Transaction {
 public:
  explicit TransactionImpl(DBImpl* db) : db_(db) {}

  Status Get(std::string_view key, std::string* value) override {
    if (done_) return Status::InvalidArgument("transaction already committed or discarded");
    if (auto w = writes_.find(key); w != writes_.end()) return Answer(w->second.value, value);
    if (auto r = reads_.find(key); r != reads_.end()) return Answer(r->second, value);
    std::string v;
    Status s = db_->Get(key, &v);
    if (s.ok()) {
      reads_.emplace(std::string(key), v);
    } else if (s.IsNotFound()) {
      reads_.emplace(std::string(key), std::nullopt);
    } else {
      return s;
    }
    return Answer(reads_.find(key)->second, value);
  }

  void Put(std::string_view key, std::string_view value) override {
    writes_[std::string(key)] = Pending{std::string(value), 0};
  }
  void PutWithTTL(std::string_view key, std::string_view value,
                  std::chrono::nanoseconds ttl) override {
    writes_[std::string(key)] = Pending{std::string(value), ttl.count()};
  }
  void Delete(std::string_view key) override {
    writes_[std::string(key)] = Pending{std::nullopt, 0};
  }

  Status Commit() override {
    if (done_) return Status::InvalidArgument("transaction already committed or discarded");
    done_ = true;
    WriteBatch batch;
    for (const auto& w : writes_) {
      if (!w.second.value) {
        batch.Delete(w.first);
      } else if (w.second.ttl_ns > 0) {
        batch.PutWithTTL(w.first, *w.second.value, std::chrono::nanoseconds(w.second.ttl_ns));
      } else {
        batch.Put(w.first, *w.second.value);
      }
    }
    std::vector<DBImpl::Condition> conditions;
    for (const auto& r : reads_) {
      conditions.push_back(r.second ? DBImpl::Condition{DBImpl::Condition::kValueEquals, r.first,
                                                        *r.second}
                                    : DBImpl::Condition{DBImpl::Condition::kAbsent, r.first, {}});
    }
    if (batch.Count() == 0) {
      // Read-only: still report a conflict if what was read has changed.
      if (conditions.empty()) return Status::OK();
    }
    return db_->WriteIf(WriteOptions(), batch, conditions);
  }

  void Discard() override {
    done_ = true;
    writes_.clear();
    reads_.clear();
  }

 private:
  struct Pending {
    std::optional<std::string> value;  // nullopt: delete
    int64_t ttl_ns;
  };

  static Status Answer(const std::optional<std::string>& v, std::string* out) {
    if (!v) return Status::NotFound("key not found");
    *out = *v;
    return Status::OK();
  }

  DBImpl* db_;
  bool done_ = false;
  std::map<std::string, Pending, std::less<>> writes_;
  std::map<std::string, std::optional<std::string>, std::less<>> reads_;
};

}  // namespace

std::unique_ptr<Transaction> DBImpl::BeginTransaction() {
  return std::make_unique<TransactionImpl>(this);
}

}  // namespace internal
}  // namespace bitgask
