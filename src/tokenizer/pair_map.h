#pragma once
// Open-addressing hash map from a pair of token ids to a merge (rank, merged id): the BPE inner
// loop does one lookup per adjacent symbol pair, so this is the hottest table of encode(). Linear
// probing over a power-of-two array of 16-byte slots, load factor <= 1/2; built once, read-only.

#include <cstdint>
#include <vector>

namespace pagedkv {

struct Merge {
  int32_t rank;
  int32_t new_id;
};

class PairMap {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    slots_.assign(cap, Slot{kEmpty, {0, 0}});
    mask_ = cap - 1;
  }
  // Later inserts of the same pair overwrite (HF builds its map by collecting in rank order).
  void insert(int32_t left, int32_t right, Merge m) {
    const uint64_t key = pack(left, right);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty || slots_[i].key == key) {
        size_ += slots_[i].key == kEmpty;
        slots_[i] = {key, m};
        return;
      }
    }
  }
  const Merge* find(int32_t left, int32_t right) const {
    const uint64_t key = pack(left, right);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].merge;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key;
    Merge merge;
  };
  static uint64_t pack(int32_t l, int32_t r) {
    return (uint64_t{static_cast<uint32_t>(l)} << 32) | static_cast<uint32_t>(r);
  }
  static size_t hash(uint64_t k) {  // splitmix64 finalizer: ids are dense, mix the bits
    k ^= k >> 31;
    k *= 0x7fb5d329728ea185ULL;
    k ^= k >> 27;
    k *= 0x81dadef4bc2dd44dULL;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace pagedkv
