// Text folding for search: case- and accent-insensitive matching of French text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace passerelle::text {

/// Lower-case ASCII with accents removed and ligatures expanded ("Médiathèque" -> "mediatheque",
/// "Œuvre" -> "oeuvre"); typographic apostrophes become '. Unknown code points are kept.
std::string Fold(std::string_view utf8);

/// Folded words of a text: split on anything but letters and digits, French elisions
/// ("l'écran" -> "ecran") and stop words ("de", "la", "les"...) dropped.
std::vector<std::string> Words(std::string_view utf8);

/// Damerau-Levenshtein distance (adjacent transpositions count 1), stopping early above `max`.
int EditDistance(std::string_view a, std::string_view b, int max);

}  // namespace passerelle::text
