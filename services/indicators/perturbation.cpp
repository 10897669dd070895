#include "services/indicators/perturbation.hpp"

#include <algorithm>

namespace passerelle::indicators {
namespace {

// SplitMix64's finaliser: every input bit moves every output bit.
uint64_t Mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t CellKey(uint64_t record_key_sum, int measure, int column) {
  const uint64_t where = static_cast<uint64_t>(measure) * 16 + static_cast<uint64_t>(column) + 1;
  return Mix(record_key_sum + where * 0x9e3779b97f4a7c15ULL);
}

int Noise(uint64_t cell_key) {
  // The key's top 32 bits, a uniform draw, against the noise's cumulative probabilities.
  const uint64_t u = cell_key >> 32;
  constexpr uint64_t kScale = uint64_t{1} << 32;
  if (u < kScale / 50) return -3;
  if (u < kScale / 10) return -2;
  if (u < kScale * 3 / 10) return -1;
  if (u < kScale * 7 / 10) return 0;
  if (u < kScale * 9 / 10) return 1;
  if (u < kScale * 49 / 50) return 2;
  return 3;
}

int64_t Perturbed(int64_t value, uint64_t cell_key, int k) {
  if (value <= 0) return value;
  return std::max<int64_t>(value + Noise(cell_key), k);
}

}  // namespace passerelle::indicators
