#!/usr/bin/env python3
"""Generates services/venues/seed/demo-roubaix.csv: about 60 EXAMPLE venues around Roubaix.

The data is invented (names start with « [EXEMPLE] », source « Passerelle — données d'exemple »,
pivots are not real SIRETs) so nobody mistakes it for the registry. Deterministic: same output
on every run. Usage: tools/generate_demo_venues.py > services/venues/seed/demo-roubaix.csv
"""
import csv
import random
import sys

FIELDS = ["id", "pivot", "nom", "commune", "code_postal", "code_insee", "adresse",
          "complement_adresse", "latitude", "longitude", "typologie", "telephone", "courriels",
          "site_web", "horaires", "presentation_resume", "presentation_detail", "source",
          "itinerance", "structure_parente", "date_maj", "services",
          "publics_specifiquement_adresses", "prise_en_charge_specifique", "frais_a_charge",
          "dispositif_programmes_nationaux", "formations_labels", "autres_formations_labels",
          "modalites_acces", "modalites_accompagnement", "fiche_acces_libre", "prise_rdv"]

QUARTIERS = [  # name, latitude, longitude (approximate centres)
    ("Alma", 50.6975, 3.1640), ("Épeule", 50.6880, 3.1655), ("Trois-Ponts", 50.6840, 3.2050),
    ("Hommelet", 50.6985, 3.1800), ("Pile", 50.6810, 3.1900), ("Sainte-Élisabeth", 50.6790, 3.1780),
    ("Cul-de-Four", 50.6930, 3.2000), ("Fresnoy-Mackellerie", 50.7050, 3.1720),
    ("Moulin", 50.6860, 3.1760), ("Nouveau Roubaix", 50.6760, 3.2010), ("Centre", 50.6905, 3.1817),
    ("Barbieux", 50.6780, 3.1650), ("Armentières", 50.6950, 3.1900), ("Justice", 50.6740, 3.1890),
    ("Hauts-Champs", 50.6720, 3.2100), ("Entrepont", 50.7020, 3.1650),
]
KINDS = [  # label, typologie, dispositifs
    ("Médiathèque", "BIB", "Conseillers numériques"),
    ("Centre social", "CS", "Conseillers numériques|Aidants Connect"),
    ("Espace France Services", "MUNI", "France Services|Aidants Connect"),
    ("Association d'insertion", "ASSO", "Emmaüs Connect"),
    ("Mairie de quartier", "MUNI", "Aidants Connect"),
    ("Tiers-lieu numérique", "TIERS_LIEUX", "Conseillers numériques|Certification PIX"),
    ("Point d'accès numérique", "CCAS", "Point d'accès numérique CAF"),
]
SERVICES = ["Aide aux démarches administratives", "Maîtrise des outils numériques du quotidien",
            "Insertion professionnelle via le numérique", "Utilisation sécurisée du numérique",
            "Parentalité et éducation avec le numérique", "Loisirs et créations numériques",
            "Compréhension du monde numérique", "Accès internet et matériel informatique",
            "Acquisition de matériel informatique à prix solidaire"]
PUBLICS = ["Jeunes", "Étudiants", "Familles et/ou enfants", "Seniors", "Femmes"]
PRISES = ["Surdité", "Handicaps moteurs", "Illettrisme", "Langues étrangères (anglais)",
          "Langues étrangères (autres)", "Déficience visuelle"]
ACCES = ["Se présenter", "Téléphoner", "Contacter par mail", "Prendre un RDV en ligne"]
ACCOMP = ["En autonomie", "Accompagnement individuel", "Dans un atelier collectif", "À distance"]
HORAIRES = ["Mo-Fr 09:00-12:00,14:00-17:30; PH off", "Tu-Sa 10:00-18:00; PH off",
            "Mo,We,Fr 14:00-18:00; Sa 09:30-12:30; PH off", "Mo-Th 08:30-12:00,13:30-17:00; Fr 08:30-12:00; PH off"]
RUES = ["rue de l'Alma", "boulevard de Belfort", "rue Pierre Motte", "avenue Jean Lebas",
        "rue du Grand Chemin", "rue de Lannoy", "boulevard Gambetta", "rue de l'Épeule",
        "rue Jules Guesde", "rue du Collège", "avenue des Nations Unies", "rue de Mouvaux"]


def pick(rng, values, low, high):
    return "|".join(rng.sample(values, rng.randint(low, min(high, len(values)))))


def main():
    rng = random.Random(59100)
    out = csv.writer(sys.stdout, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    out.writerow(FIELDS)
    n = 0
    for q_name, q_lat, q_lon in QUARTIERS:
        for _ in range(4):
            if n == 60:
                break
            n += 1
            label, typo, dispositifs = KINDS[rng.randrange(len(KINDS))]
            row = {
                "id": f"exemple-roubaix-{n:03d}",
                "pivot": f"99999{n:09d}",
                "nom": f"[EXEMPLE] {label} {q_name}",
                "commune": "Roubaix",
                "code_postal": "59100",
                "code_insee": "59512",
                "adresse": f"{rng.randint(1, 180)} {rng.choice(RUES)}",
                "latitude": f"{q_lat + rng.uniform(-0.004, 0.004):.6f}",
                "longitude": f"{q_lon + rng.uniform(-0.006, 0.006):.6f}",
                "typologie": typo,
                "telephone": f"+333205{rng.randint(10000, 99999)}",
                "courriels": f"contact-{n:03d}@exemple.invalid",
                "horaires": rng.choice(HORAIRES),
                "presentation_resume": f"Lieu d'exemple du quartier {q_name} : accueil et accompagnement au numérique (données fictives de démonstration).",
                "source": "Passerelle — données d'exemple",
                "itinerance": "Fixe",
                "date_maj": f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}",
                "services": pick(rng, SERVICES, 1, 4),
                "publics_specifiquement_adresses": pick(rng, PUBLICS, 0, 2),
                "prise_en_charge_specifique": pick(rng, PRISES, 0, 2),
                "frais_a_charge": rng.choice(["Gratuit", "Gratuit", "Gratuit sous condition", "Payant"]),
                "dispositif_programmes_nationaux": dispositifs,
                "modalites_acces": pick(rng, ACCES, 1, 3),
                "modalites_accompagnement": pick(rng, ACCOMP, 1, 3),
            }
            out.writerow([row.get(f, "") for f in FIELDS])


if __name__ == "__main__":
    main()
