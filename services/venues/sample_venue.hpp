// A venue every test can start from: valid under the national standard and Passerelle's rules.
#pragma once

#include <string>

#include "passerelle/venues/v1/venues.pb.h"

namespace passerelle::venues::itest {

/// A venue that the national standard and Passerelle's rules accept.
inline v1::Venue Valid(const std::string& id, const std::string& nom = "Médiathèque Jean Lévy") {
  v1::Venue v;
  v.set_id(id);
  v.set_pivot("21590512800017");
  v.set_nom(nom);
  v.set_commune("Roubaix");
  v.set_code_postal("59100");
  v.set_adresse("2 rue Pierre Motte");
  v.set_date_maj("2024-04-02");
  v.set_latitude(50.6909);
  v.set_longitude(3.1746);
  v.add_services(v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
  v.add_frais_a_charge(v1::FRAIS_GRATUIT);
  v.add_typologie("BIB");
  return v;
}

}  // namespace passerelle::venues::itest
