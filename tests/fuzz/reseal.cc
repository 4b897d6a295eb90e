#include "reseal.h"

#include <cstring>

#include "coding.h"
#include "crc32.h"
#include "record.h"

using namespace bitgask::internal;

void ResealDataFile(std::string* file) {
  size_t pos = 0;
  RecordHeader h;
  while (file->size() - pos >= kHeaderSize && DecodeHeader(file->data() + pos, &h) &&
         h.RecordSize() <= file->size() - pos) {
    ResealRecord(h, &(*file)[pos]);
    pos += static_cast<size_t>(h.RecordSize());
  }
}

void ResealHintFile(std::string* file) {
  constexpr size_t kEntryFixed = 39, kTrailerSize = 20;
  if (file->size() < kTrailerSize) return;
  const size_t body = file->size() - kTrailerSize;
  uint64_t count = 0;
  for (size_t pos = 0; body - pos >= kEntryFixed;) {
    const size_t key_len = DecodeFixed16(file->data() + pos + 32);
    if (body - pos < kEntryFixed + key_len) break;
    pos += kEntryFixed + key_len;
    count++;
  }
  char* t = &(*file)[body];
  EncodeFixed64(t, count);
  const uint32_t crc = Crc32(Crc32(0, file->data(), body), t, 8);
  EncodeFixed32(t + 8, crc);
  std::memcpy(t + 12, "BGKHINT1", 8);
}
