// Exports of a nomenclature version: JSON, CSV (RFC 4180) and SKOS in Turtle.
#pragma once

#include <string>

#include "services/referential/catalog.hpp"

namespace passerelle::referential {

/// The tree with ids and every label, in the shape of the seed files.
std::string ExportJson(const VersionTree& t);
/// One row per item (retired ones last, flagged), `|` between list values.
std::string ExportCsv(const VersionTree& t);
/// A skos:ConceptScheme: levels are top concepts (`skos:hasTopConcept` on the scheme),
/// categories and items narrower concepts (`skos:broader` and `skos:narrower` both stated);
/// prefLabel = professional label, altLabel = plain label, hiddenLabel = keywords, notation =
/// code (levels `N<code>`: notations are unique in the scheme); retired items are
/// owl:deprecated. Concept URIs use the nodes' stable keys under `base_uri`, never one another
/// concept had in any version (docs/referential.md "SKOS").
std::string ExportSkosTurtle(const VersionTree& t, const std::string& base_uri);

}  // namespace passerelle::referential
