// Random valid venues for the round-trip property tests (roundtrip_test, roundtrip_itest):
// every standard field, lists with several values, every enumeration value, and what breaks
// naive writers (accents, quotes, commas, semicolons, newlines in descriptions, emoji, values
// starting with = + - @, telephone numbers, negative longitudes). Each value is already in the
// standard's normal form, so a round trip must give it back byte for byte.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/standard/standard.hpp"
#include "passerelle/venues/v1/venues.pb.h"

namespace passerelle::standard::roundtrip {

/// The seed of a run: PASSERELLE_ROUNDTRIP_SEED when set (to replay a failure), else random.
inline uint64_t Seed() {
  if (const char* s = std::getenv("PASSERELLE_ROUNDTRIP_SEED"))
    return std::strtoull(s, nullptr, 10);
  return std::random_device{}() * uint64_t{0x9E3779B97F4A7C15} ^ std::random_device{}();
}

class Generator {
 public:
  Generator(const Standard& standard, uint64_t seed) : standard_(standard), rng_(seed) {}

  /// Venue number `i` of a run: every enumeration value turns up as `i` goes round.
  venues::v1::Venue Venue(int i) {
    venues::v1::Venue v;
    const auto* desc = v.GetDescriptor();
    const auto* refl = v.GetReflection();
    const bool located = Chance(0.75);  // both coordinates or neither (ValidateRow's rule)
    for (const FieldSpec& f : standard_.fields()) {
      const auto* field = desc->FindFieldByName(f.name);
      if (field == nullptr) std::abort();  // the message names every standard field
      if (f.kind == FieldKind::kNumber) {
        if (!located) continue;
      } else if (!f.required && Chance(0.25)) {
        continue;  // absent optional fields round-trip too
      }
      if (!f.values.empty()) {
        for (int n : EnumSubset(f.values.size(), i)) refl->AddEnumValue(&v, field, n);
      } else if (f.kind == FieldKind::kList) {
        const int count = Chance(0.5) ? 1 : Int(2, 6);
        for (int k = 0; k < count; ++k) refl->AddString(&v, field, ListValue(f.name));
      } else if (f.kind == FieldKind::kNumber) {
        refl->SetDouble(&v, field, Coordinate(f.name == "latitude" ? 90 : 180));
      } else {
        refl->SetString(&v, field, Scalar(f, i));
      }
    }
    return v;
  }

  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

 private:
  template <typename T>
  const T& Pick(const std::vector<T>& from) {
    return from[static_cast<size_t>(Int(0, static_cast<int>(from.size()) - 1))];
  }

  // Enum numbers (1-based schema positions): value `i mod n` first, then a few others.
  std::vector<int> EnumSubset(size_t n, int i) {
    std::vector<int> out = {static_cast<int>(i % n) + 1};
    const int more = Chance(0.5) ? 0 : Int(1, static_cast<int>(n) - 1);
    for (int k = 0; k < more; ++k) {
      const int candidate = Int(1, static_cast<int>(n));
      if (std::find(out.begin(), out.end(), candidate) == out.end()) out.push_back(candidate);
    }
    return out;
  }

  std::string Digits(int count) {
    std::string out;
    for (int k = 0; k < count; ++k) out += static_cast<char>('0' + Int(0, 9));
    return out;
  }

  // Plain decimal text reads back as the same double: any double in range, rounded to a few
  // decimals or not at all, negative half of the time, sometimes -0 or tiny.
  double Coordinate(double limit) {
    const int shape = Int(0, 9);
    if (shape == 0) return Chance(0.5) ? -0.0 : 0.0;
    if (shape == 1) return (Chance(0.5) ? -1 : 1) * std::ldexp(1.0, -Int(20, 1000));
    if (shape == 2) return Chance(0.5) ? -limit : limit;
    double d = std::uniform_real_distribution<double>(-limit, limit)(rng_);
    if (shape < 6) {
      const double scale = std::pow(10.0, Int(0, 8));
      d = std::round(d * scale) / scale;
    }
    return d;
  }

  // Words that break naive CSV, JSON and SQL writers, and French as it is written.
  std::string Words(int min_words, int max_words, bool multiline) {
    static const std::vector<std::string> kWords = {"Médiathèque",
                                                    "Jean",
                                                    "Lévy",
                                                    "l'Épeule",
                                                    "« guillemets »",
                                                    "\"cité\"",
                                                    "virgule,",
                                                    "point;virgule",
                                                    "Œuvre",
                                                    "naïve",
                                                    "façade",
                                                    "Straße",
                                                    "🙂",
                                                    "👩🏽‍💻",
                                                    "עברית",
                                                    "العربية",
                                                    "tab\there",
                                                    "a\"b\"\"c",
                                                    "1,5",
                                                    "100%",
                                                    "$1",
                                                    "\\n",
                                                    "C:\\dossier",
                                                    "<b>gras</b>",
                                                    "{\"json\":1}",
                                                    "'apostrophe'",
                                                    "’courbe’",
                                                    "–tiret",
                                                    "1 000",
                                                    "n°2",
                                                    "Roubaix",
                                                    "Wattrelos",
                                                    "accès",
                                                    "numérique",
                                                    "démarches",
                                                    "ÉCOLE",
                                                    "x",
                                                    "--",
                                                    "=",
                                                    "@",
                                                    "+"};
    std::string out;
    const int n = Int(min_words, max_words);
    for (int k = 0; k < n; ++k) {
      if (k > 0) out += multiline && Chance(0.15) ? (Chance(0.5) ? "\n" : "\r\n") : " ";
      out += Pick(kWords);
    }
    return out;
  }

  // A spreadsheet would run these as formulas: exports guard them, imports unguard them.
  std::string FormulaPrefix() {
    static const std::vector<std::string> kPrefixes = {
        "=", "+", "-", "@", "=HYPERLINK(\"http://x\";\"y\") ", "'=", "''+", "-1+", "+33 "};
    return Chance(0.15) ? Pick(kPrefixes) : "";
  }

  std::string Text(size_t max_code_points, bool multiline) {
    const int most = max_code_points <= 280 ? 12 : multiline ? 120 : 25;
    return FormulaPrefix() + Words(1, most, multiline);
  }

  std::string ListValue(const std::string& field) {
    if (field == "typologie") {
      static const std::vector<std::string> kTypes = {
          "CCAS", "ASSO", "TIERS_LIEUX", "BIB", "MUNI", "CS", "PIJ_BIJ", "FRANCE_SERVICE"};
      return Pick(kTypes);
    }
    if (field == "courriels") {
      return absl::StrCat(
          FormulaPrefix(),
          Pick(std::vector<std::string>{"contact", "accueil", "jean.levy+num", "o'brien", "x_y-z"}),
          Int(1, 999), "@", Pick(std::vector<std::string>{"exemple.fr", "ville-roubaix.fr"}));
    }
    if (field == "site_web") {
      return absl::StrCat(
          "https://exemple.fr/lieu-", Int(1, 9999),
          Pick(std::vector<std::string>{"", "/", "?a=1,2&b=3;4", "#ancre", "/é%20x"}));
    }
    return Words(1, 4, false);
  }

  std::string Scalar(const FieldSpec& f, int i) {
    if (f.name == "id") return absl::StrCat(FormulaPrefix(), "lieu-", i, "-", Words(1, 2, false));
    if (f.name == "pivot") {
      static const std::string kAlnum =
          "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
      std::string out;
      for (int k = Int(9, 14); k > 0; --k) out += kAlnum[static_cast<size_t>(Int(0, 61))];
      return out;
    }
    if (f.name == "code_postal") return Digits(5);
    if (f.name == "code_insee") {
      switch (Int(0, 2)) {
        case 0:
          return "2" + std::string(1, "AB123456789"[Int(0, 10)]) + Digits(3);
        case 1:
          return "0" + Digits(4);
        default:
          return std::string(1, "13456789"[Int(0, 7)]) + Digits(4);
      }
    }
    if (f.name == "telephone") {
      static const std::vector<std::string> kPrefixes = {"+33",  "+590", "+594", "+262", "+596",
                                                         "+269", "+687", "+689", "+508", "+681"};
      return Pick(kPrefixes) + Digits(Int(6, 9));
    }
    if (f.name == "date_maj") {
      char buf[11];
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", Int(2000, 2030), Int(1, 12), Int(1, 28));
      return buf;
    }
    if (f.name == "horaires") {
      static const std::vector<std::string> kHours = {
          "Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00",
          "24/7",
          "Mo-Fr 09:00-17:00; PH off",
          "Fr-Sa 20:00-02:00; Su closed",
          "Tu,Th 14:00-18:00 || We 10:00-12:00",
          "Mo 09:00-12:00; SH off"};
      return Pick(kHours);
    }
    if (f.name == "fiche_acces_libre" || f.name == "prise_rdv") {
      return absl::StrCat("https://acceslibre.beta.gouv.fr/app/59-roubaix/a/lieu/erp/",
                          Int(1, 99999), "/?q=a,b;c");
    }
    return Text(f.max_length, f.name == "presentation_detail");
  }

  const Standard& standard_;
  std::mt19937_64 rng_;
};

/// The standard's fields of a venue and nothing else (no name, provenance or times).
inline venues::v1::Venue StandardOnly(const Standard& standard, const venues::v1::Venue& v) {
  venues::v1::Venue out;
  const auto* desc = v.GetDescriptor();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  for (const FieldSpec& f : standard.fields()) fields.push_back(desc->FindFieldByName(f.name));
  out.CopyFrom(v);
  const auto* refl = out.GetReflection();
  for (int k = 0; k < desc->field_count(); ++k) {
    const auto* field = desc->field(k);
    if (std::find(fields.begin(), fields.end(), field) == fields.end())
      refl->ClearField(&out, field);
  }
  return out;
}

/// Empty when equal, else what differs.
inline std::string Differences(const venues::v1::Venue& expected, const venues::v1::Venue& actual) {
  std::string diff;
  google::protobuf::util::MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  return differ.Compare(expected, actual) ? "" : diff;
}

/// A double as the standard writes numbers: plain decimal, shortest that reads back exactly.
inline std::string PlainDecimal(double d) {
  char buf[512];
  auto r = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

}  // namespace passerelle::standard::roundtrip
