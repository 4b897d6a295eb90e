#include "bitgask/write_batch.h"

namespace bitgask {

namespace {

WriteBatch::Op MakeOp(WriteBatch::Op::Kind kind, std::string_view key, std::string_view value) {
  WriteBatch::Op op;
  op.kind = kind;
  op.key = std::string(key);
  op.value = std::string(value);
  return op;
}

}  // namespace

void WriteBatch::Put(std::string_view key, std::string_view value) {
  ops_.push_back(MakeOp(Op::kPut, key, value));
}

void WriteBatch::PutWithTTL(std::string_view key, std::string_view value,
                            std::chrono::nanoseconds ttl) {
  Op op = MakeOp(Op::kPut, key, value);
  op.ttl_ns = ttl.count() > 0 ? ttl.count() : 0;
  ops_.push_back(std::move(op));
}

void WriteBatch::PutWithMeta(std::string_view key, std::string_view value,
                             int64_t expires_at_unix_ns, uint16_t mode,
                             int64_t timestamp_unix_ns, std::optional<Owner> owner) {
  Op op = MakeOp(Op::kPut, key, value);
  op.expires_at = expires_at_unix_ns;
  op.mode = mode;
  op.timestamp = timestamp_unix_ns;
  op.owner = owner;
  ops_.push_back(std::move(op));
}

void WriteBatch::Delete(std::string_view key) {
  ops_.push_back(MakeOp(Op::kDelete, key, {}));
}

void WriteBatch::Copy(std::string_view from, std::string_view to) {
  ops_.push_back(MakeOp(Op::kCopy, to, from));
}

size_t WriteBatch::ApproximateSize() const {
  size_t n = 0;
  for (const Op& op : ops_) n += op.key.size() + op.value.size();
  return n;
}

}  // namespace bitgask
