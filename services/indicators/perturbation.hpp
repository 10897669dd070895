// Cell-key perturbation of published counts (the method of the Australian Bureau of Statistics'
// TableBuilder, used by Eurostat's census tables): every report carries a random record key; a
// published count adds a small noise chosen by the cell key, the sum of the record keys of the
// reports that count someone in the cell (a report adding 0 there leaves the noise as it is). The
// same reports give the same noise wherever their cell appears (the total row of every dimension, a
// row that two dimensions share), so asking again or elsewhere tells nothing new; a cell that
// differs by one report draws a new noise, so subtracting two tables, or a table before and after
// one's own report, leaves a count known to within ±6, not exactly. The noise's rare tails (±3)
// make two draws that pin a count (one at each end) rare. Pure.
#pragma once

#include <cstdint>

namespace passerelle::indicators {

/// The largest noise added to or taken from a published count.
inline constexpr int kNoiseBound = 3;

/// The key of one cell: its reports' record keys summed (wrapping), mixed with the measure and
/// the column so that the cells of one row draw independent noises.
uint64_t CellKey(uint64_t record_key_sum, int measure, int column);

/// The noise of a cell: −3 to +3 (probabilities 0.02, 0.08, 0.2, 0.4, 0.2, 0.08, 0.02) read from
/// its key.
int Noise(uint64_t cell_key);

/// The published value of a count: 0 stays 0, any other count gets its cell's noise. The
/// protection calls a count small when count + noise is under `k` (suppression.hpp), so a
/// published count is never under `k`; the floor at `k` only guards that.
int64_t Perturbed(int64_t value, uint64_t cell_key, int k);

}  // namespace passerelle::indicators
