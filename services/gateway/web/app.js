// Passerelle's map page: find a place of digital help in Roubaix, over the public REST API only
// (docs/map.md). The list of results is the primary view; the Leaflet map is an extra that may be
// missing (no Leaflet, `?carte=non`, a failed load) without breaking anything.

import { h } from "./dom.js";

const ROUBAIX = { latitude: 50.6942, longitude: 3.1746 };
const RAYON_VILLE = 5000; // metres around the centre (or the person)
const RAYON_QUARTIER = 20000; // a quartier is filtered by its area, the circle only orders
// The area layer whose coverage of the chosen need is shaded (the indicators service's figures).
const COUCHE_COUVERTURE = "quartiers";
// Classes of coverage, best first: a number (drawn on the map and in the table) and words, so
// that nothing is told by colour alone. Colours: one blue hue, darker is better.
const CLASSES_COUVERTURE = [
  { id: "dedans", texte: "au moins un lieu dans le quartier", couleur: "#084594" },
  { id: "proche", texte: "aucun dans le quartier, le plus proche à moins de 1 km", couleur: "#4292c6" },
  { id: "moyen", texte: "le plus proche entre 1 et 2 km", couleur: "#9ecae1" },
  { id: "loin", texte: "le plus proche à 2 km ou plus", couleur: "#eff3ff" },
  { id: "aucun", texte: "aucun lieu connu ne le propose", couleur: "#ffffff" },
];

const params = new URLSearchParams(location.search);
// A fixed clock for tests and demos: ?maintenant=2026-12-07T10:00:00Z.
const MAINTENANT = (() => {
  const m = params.get("maintenant");
  const t = m ? Date.parse(m) : NaN;
  return Number.isFinite(t) ? new Date(t) : null;
})();
const SANS_CARTE = params.get("carte") === "non";
// Results per page (the API's most, 100); ?parPage=2 for tests and demos.
const PAR_PAGE = (() => {
  const n = Number(params.get("parPage"));
  return Number.isInteger(n) && n >= 1 && n <= 100 ? n : 100;
})();

// Standard spellings (venues.proto comments) and plain words for inhabitants.
const SERVICES = {
  SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES: ["Aide aux démarches administratives", "Aide pour les démarches en ligne (CAF, impôts, santé…)"],
  SERVICE_MAITRISE_DES_OUTILS_NUMERIQUES_DU_QUOTIDIEN: ["Maîtrise des outils numériques du quotidien", "Apprendre à se servir d'un ordinateur, d'un téléphone"],
  SERVICE_INSERTION_PROFESSIONNELLE_VIA_LE_NUMERIQUE: ["Insertion professionnelle via le numérique", "Chercher un emploi, faire un CV"],
  SERVICE_UTILISATION_SECURISEE_DU_NUMERIQUE: ["Utilisation sécurisée du numérique", "Se protéger en ligne"],
  SERVICE_PARENTALITE_ET_EDUCATION_AVEC_LE_NUMERIQUE: ["Parentalité et éducation avec le numérique", "Suivre la scolarité des enfants (Pronote, ENT)"],
  SERVICE_LOISIRS_ET_CREATIONS_NUMERIQUES: ["Loisirs et créations numériques", "Loisirs et création (photo, vidéo, jeux)"],
  SERVICE_COMPREHENSION_DU_MONDE_NUMERIQUE: ["Compréhension du monde numérique", "Comprendre le numérique"],
  SERVICE_ACCES_INTERNET_ET_MATERIEL_INFORMATIQUE: ["Accès internet et matériel informatique", "Ordinateurs en accès libre, internet, impression"],
  SERVICE_ACQUISITION_DE_MATERIEL_INFORMATIQUE_A_PRIX_SOLIDAIRE: ["Acquisition de matériel informatique à prix solidaire", "Acheter un ordinateur à petit prix"],
};
const ENUMS = {
  PUBLIC_JEUNES: "Jeunes", PUBLIC_ETUDIANTS: "Étudiants", PUBLIC_FAMILLES_ET_OU_ENFANTS: "Familles et/ou enfants",
  PUBLIC_SENIORS: "Seniors", PUBLIC_FEMMES: "Femmes",
  PRISE_EN_CHARGE_SURDITE: "Surdité", PRISE_EN_CHARGE_HANDICAPS_MOTEURS: "Handicaps moteurs",
  PRISE_EN_CHARGE_HANDICAPS_MENTAUX: "Handicaps mentaux", PRISE_EN_CHARGE_ILLETTRISME: "Illettrisme",
  PRISE_EN_CHARGE_LANGUES_ETRANGERES_ANGLAIS: "Langues étrangères (anglais)",
  PRISE_EN_CHARGE_LANGUES_ETRANGERES_AUTRES: "Langues étrangères (autres)",
  PRISE_EN_CHARGE_DEFICIENCE_VISUELLE: "Déficience visuelle",
  FRAIS_GRATUIT: "Gratuit", FRAIS_GRATUIT_SOUS_CONDITION: "Gratuit sous condition", FRAIS_PAYANT: "Payant",
  MODALITE_ACCES_SE_PRESENTER: "Se présenter", MODALITE_ACCES_TELEPHONER: "Téléphoner",
  MODALITE_ACCES_CONTACTER_PAR_MAIL: "Contacter par mail", MODALITE_ACCES_PRENDRE_UN_RDV_EN_LIGNE: "Prendre un RDV en ligne",
  MODALITE_ACCES_NE_RECOIT_PAS_DE_PUBLIC: "Ce lieu n'accueille pas de public",
  MODALITE_ACCES_ENVOYER_UN_MAIL_AVEC_UNE_FICHE_DE_PRESCRIPTION: "Envoyer un mail avec une fiche de prescription",
  MODALITE_ACCOMPAGNEMENT_EN_AUTONOMIE: "En autonomie", MODALITE_ACCOMPAGNEMENT_ACCOMPAGNEMENT_INDIVIDUEL: "Accompagnement individuel",
  MODALITE_ACCOMPAGNEMENT_DANS_UN_ATELIER_COLLECTIF: "Dans un atelier collectif", MODALITE_ACCOMPAGNEMENT_A_DISTANCE: "À distance",
  ITINERANCE_ITINERANT: "Itinérant", ITINERANCE_FIXE: "Fixe",
  DISPOSITIF_AIDANTS_CONNECT: "Aidants Connect", DISPOSITIF_BIBLIOTHEQUES_NUMERIQUE_DE_REFERENCE: "Bibliothèques numérique de référence",
  DISPOSITIF_CERTIFICATION_PIX: "Certification PIX", DISPOSITIF_CONSEILLERS_NUMERIQUES: "Conseillers numériques",
  DISPOSITIF_EMMAUS_CONNECT: "Emmaüs Connect", DISPOSITIF_FRANCE_SERVICES: "France Services",
  DISPOSITIF_GRANDE_ECOLE_DU_NUMERIQUE: "Grande école du numérique", DISPOSITIF_LA_CROIX_ROUGE: "La Croix Rouge",
  DISPOSITIF_POINT_ACCES_NUMERIQUE_CAF: "Point d'accès numérique CAF", DISPOSITIF_PROMENEURS_DU_NET: "Promeneurs du net",
  DISPOSITIF_RELAIS_NUMERIQUE_EMMAUS_CONNECT: "Relais numérique (Emmaüs Connect)",
  FORMATION_LABEL_FORME_A_MON_ESPACE_SANTE: "Formé à « Mon Espace Santé »",
  FORMATION_LABEL_FORME_A_DUPLEX: "Formé à « DUPLEX » (illettrisme)",
  FORMATION_LABEL_ARNIA_MEDNUM_BFC: "Arnia/MedNum BFC (Bourgogne-Franche-Comté)",
  FORMATION_LABEL_COLLECTIF_RESSOURCES_ET_ACTEURS_REEMPLOI: "Collectif ressources et acteurs réemploi (Normandie)",
  FORMATION_LABEL_ETAPES_NUMERIQUES_LA_POSTE: "Étapes numériques(La Poste)",
  FORMATION_LABEL_FABRIQUES_DE_TERRITOIRE: "Fabriques de Territoire",
  FORMATION_LABEL_LES_ECLAIREURS_DU_NUMERIQUE: "Les Éclaireurs du numérique (Drôme)",
  FORMATION_LABEL_MES_PAPIERS: "Mes Papiers (Métropole de Lyon)",
  FORMATION_LABEL_ORDI_3_0: "ORDI 3.0",
  FORMATION_LABEL_SUD_LABS: "SUD LABS (PACA)",
};
const JOURS = ["dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"];

// The national standard's columns, in its order (CSV export and professional view).
const COLONNES = [
  ["id", "id"], ["pivot", "pivot"], ["nom", "nom"], ["commune", "commune"], ["code_postal", "codePostal"],
  ["code_insee", "codeInsee"], ["adresse", "adresse"], ["complement_adresse", "complementAdresse"],
  ["latitude", "latitude"], ["longitude", "longitude"], ["typologie", "typologie"], ["telephone", "telephone"],
  ["courriels", "courriels"], ["site_web", "siteWeb"], ["horaires", "horaires"],
  ["presentation_resume", "presentationResume"], ["presentation_detail", "presentationDetail"], ["source", "source"],
  ["itinerance", "itinerance"], ["structure_parente", "structureParente"], ["date_maj", "dateMaj"],
  ["services", "services"], ["publics_specifiquement_adresses", "publicsSpecifiquementAdresses"],
  ["prise_en_charge_specifique", "priseEnChargeSpecifique"], ["frais_a_charge", "fraisACharge"],
  ["dispositif_programmes_nationaux", "dispositifProgrammesNationaux"], ["formations_labels", "formationsLabels"],
  ["autres_formations_labels", "autresFormationsLabels"], ["modalites_acces", "modalitesAcces"],
  ["modalites_accompagnement", "modalitesAccompagnement"], ["fiche_acces_libre", "ficheAccesLibre"],
  ["prise_rdv", "priseRdv"],
];

const etat = {
  besoin: null, // {name, label}
  position: null, // {latitude, longitude} of « Autour de moi »
  resultats: [],
  carte: null, // Leaflet map and layer, once loaded
  config: { tilesUrl: "", tilesAttribution: "", leaflet: false },
  generation: 0,
  couverture: null, // {besoin, zones: [{code, nom, lieux, distance, heures, classe, geometry}], portee}
  generationCouverture: 0,
};

const $ = (id) => document.getElementById(id);

function maintenant() {
  return MAINTENANT || new Date();
}
function rfc3339(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

// A link inside the page keeping the test and display settings (?maintenant, ?carte).
function lien(chemin, extra) {
  const p = new URLSearchParams(extra || "");
  for (const k of ["maintenant", "carte", "parPage"]) if (params.has(k)) p.set(k, params.get(k));
  const q = p.toString();
  return q ? `${chemin}?${q}` : chemin;
}

function idDuLieu(name) {
  return String(name || "").replace(/^venues\//, "");
}

// A web address to link, or null: http(s) only, and never one with a user or password
// (`https://www.roubaix.fr@ailleurs.example` would hide where it leads).
function httpUrl(u) {
  try {
    const url = new URL(u);
    if (url.username || url.password) return null;
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

async function api(chemin) {
  const r = await fetch(chemin, { headers: { Accept: "application/json" }, credentials: "omit" });
  let corps = null;
  try {
    corps = await r.json();
  } catch {
    corps = null;
  }
  if (!r.ok) {
    const e = new Error((corps && corps.error && corps.error.message) || `Erreur ${r.status}`);
    e.status = r.status;
    throw e;
  }
  return corps || {};
}

function modePro() {
  return document.body.classList.contains("pro");
}

// +33320000001 → 03 20 00 00 01 (French numbers), else as written.
// Whether a producer's e-mail is one plain address, safe in a mailto: link (no `?cc=`, `&body=`,
// spaces or a second address).
function adresseCourriel(c) {
  return /^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/.test(c || "");
}

function telephoneTexte(t) {
  const m = /^\+33([1-9])(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(t || "");
  return m ? `0${m.slice(1).join(" ")}` : t;
}

function distanceTexte(m) {
  if (m === undefined || m === null) return "";
  if (m < 1000) return `à ${Math.round(m / 10) * 10} m`;
  return `à ${(m / 1000).toLocaleString("fr-FR", { maximumFractionDigits: 1 })} km`;
}

function annoncer(texte) {
  $("etat").textContent = texte;
}

// ---- Needs (the referential) ------------------------------------------------------------------

let minuterieBesoin = 0;
async function chercherBesoins(texte) {
  const zone = $("suggestions-zone");
  const liste = $("suggestions");
  if (texte.trim().length < 2) {
    zone.hidden = true;
    liste.replaceChildren();
    return;
  }
  const audience = modePro() ? "PROFESSIONAL" : "INHABITANT";
  let reponse;
  try {
    reponse = await api(`/v1/items:search?query=${encodeURIComponent(texte.trim())}&audience=${audience}&pageSize=8`);
  } catch (e) {
    zone.hidden = false;
    liste.replaceChildren(h("li", null, `La recherche de besoins n'a pas abouti : ${e.message}`));
    return;
  }
  if ($("besoin").value !== texte) return; // typed on meanwhile
  const items = (reponse.results || []).map((r) => r.item).filter((i) => i && !i.retired);
  zone.hidden = false;
  $("suggestions-etat").textContent = items.length === 0 ? "Aucun besoin ne correspond : essayez un autre mot."
    : items.length === 1 ? "1 besoin trouvé : choisissez-le pour voir les lieux."
      : `${items.length} besoins trouvés : choisissez-en un pour voir les lieux.`;
  if (items.length === 0) {
    liste.replaceChildren();
    return;
  }
  liste.replaceChildren(...items.map((item) => {
    const libelle = modePro() ? item.label : item.plainLabel || item.label;
    const b = h("button", { type: "button", class: "besoin", "data-item": item.name }, libelle,
      modePro() ? h("span", { class: "code" }, ` (${item.code})`) : null);
    b.addEventListener("click", () => choisirBesoin({ name: item.name, label: libelle }));
    return h("li", null, b);
  }));
}

function choisirBesoin(besoin) {
  etat.besoin = besoin;
  $("besoin-choisi").hidden = !besoin;
  $("besoin-libelle").textContent = besoin ? besoin.label : "";
  $("suggestions-zone").hidden = true;
  if ($("f-item").value !== (besoin ? besoin.name : "")) $("f-item").value = besoin ? besoin.name : "";
  chercherLieux();
  chargerCouverture();
  if (besoin) $("resultats-titre").focus?.();
}

// Professional mode: every item of the current version of the referential, by category, in a
// <select> (the search above only suggests eight). Loaded once, when the mode is first on.
let itemsCharges = false;
async function chargerItems() {
  if (itemsCharges || !modePro()) return;
  itemsCharges = true;
  let version;
  try {
    const n = ((await api("/v1/nomenclatures")).nomenclatures || [])[0];
    version = await api(`/v1/${n.currentVersion.split("/").map(encodeURIComponent).join("/")}`);
  } catch {
    itemsCharges = false;
    return;
  }
  const select = $("f-item");
  for (const niveau of version.levels || []) {
    for (const cat of niveau.categories || []) {
      const groupe = h("optgroup", { label: `${cat.code} ${cat.label}` });
      for (const it of cat.items || []) groupe.append(h("option", { value: it.name }, `${it.code} ${it.label}`));
      if (groupe.children.length) select.append(groupe);
    }
  }
  if (etat.besoin) select.value = etat.besoin.name;
}

// ---- Venues ------------------------------------------------------------------------------------

// The UTC instant of a local midnight in Roubaix (YYYY-MM-DD), whatever the offset that day.
function minuitLocal(jour) {
  const utc = Date.parse(`${jour}T00:00:00Z`);
  for (const decalage of [-1, -2, 0, -3, 1]) {
    const t = new Date(utc + decalage * 3600000);
    const l = enLocal(t);
    if (l.jour === jour && l.heure === "00:00") return t;
  }
  return new Date(utc - 3600000);
}

function samediProchain() {
  const ici = enLocal(maintenant());
  const aujourdhui = new Date(`${ici.jour}T12:00:00Z`);
  const ecart = (6 - aujourdhui.getUTCDay() + 7) % 7;
  const samedi = new Date(aujourdhui.getTime() + ecart * 86400000).toISOString().slice(0, 10);
  const dimanche = new Date(aujourdhui.getTime() + (ecart + 1) * 86400000).toISOString().slice(0, 10);
  return [minuitLocal(samedi), minuitLocal(dimanche)];
}

function requeteLieux() {
  const p = new URLSearchParams();
  const centre = etat.position || ROUBAIX;
  const quartier = $("quartier").value;
  p.set("near.latitude", centre.latitude.toFixed(6));
  p.set("near.longitude", centre.longitude.toFixed(6));
  p.set("near.radiusMeters", String(quartier ? RAYON_QUARTIER : RAYON_VILLE));
  if (quartier) p.append("areas", quartier);
  if (etat.besoin) p.append("referentialItems", etat.besoin.name);
  if ($("f-ouvert").checked) p.set("openAt", rfc3339(maintenant()));
  if ($("f-samedi").checked) {
    const [debut, fin] = samediProchain();
    p.set("openDuring.startTime", rfc3339(debut));
    p.set("openDuring.endTime", rfc3339(fin));
  }
  if ($("f-gratuit").checked) p.append("frais", "FRAIS_GRATUIT");
  if ($("f-rdv").checked) p.append("modalitesAcces", "MODALITE_ACCES_PRENDRE_UN_RDV_EN_LIGNE");
  if ($("f-public").value) p.append("publics", $("f-public").value);
  if ($("f-accompagnement").value) p.append("prisesEnCharge", $("f-accompagnement").value);
  p.set("pageSize", String(PAR_PAGE));
  // The list's and the map's fields; the professional mode's CSV carries every field.
  if (!modePro()) p.set("view", "VENUE_VIEW_BASIC");
  return p;
}

async function chercherLieux() {
  const generation = ++etat.generation;
  annoncer("Recherche en cours…");
  let reponse;
  try {
    reponse = await api(`/v1/venues:search?${requeteLieux()}`);
  } catch (e) {
    if (generation !== etat.generation) return;
    annoncer(`La recherche n'a pas abouti : ${e.message}`);
    $("resultats").replaceChildren();
    return;
  }
  if (generation !== etat.generation) return;
  etat.resultats = reponse.results || [];
  etat.requete = requeteLieux();
  etat.suivante = reponse.nextPageToken || "";
  etat.total = reponse.totalSize || 0;
  afficherResultats(reponse);
}

// « Plus de résultats »: the next page of the same search, added to the list; the focus goes to
// the first venue added so that a keyboard or screen-reader user carries on from there.
async function plusDeResultats() {
  if (!etat.suivante) return;
  const generation = etat.generation;
  const p = new URLSearchParams(etat.requete);
  p.set("pageToken", etat.suivante);
  $("plus").disabled = true;
  let reponse;
  try {
    reponse = await api(`/v1/venues:search?${p}`);
  } catch (e) {
    if (generation === etat.generation) annoncer(`La suite de la liste n'a pas pu être chargée : ${e.message}`);
    $("plus").disabled = false;
    return;
  }
  if (generation !== etat.generation) return;
  const avant = etat.resultats.length;
  etat.resultats = etat.resultats.concat(reponse.results || []);
  etat.suivante = reponse.nextPageToken || "";
  afficherResultats({ ...reponse, totalSize: reponse.totalSize || etat.total });
  $("plus").disabled = false;
  const premier = $("resultats").children[avant];
  if (premier) premier.querySelector("a").focus();
}

function resumeServices(v) {
  return (v.services || []).map((s) => (SERVICES[s] ? SERVICES[s][1] : s));
}

function afficherResultats(reponse) {
  const n = etat.resultats.length;
  const total = reponse.totalSize || n;
  let texte = n === 0 ? "Aucun lieu ne correspond à cette recherche."
    : n === 1 ? "1 lieu trouvé, le plus proche d'abord."
      : `${n} lieux trouvés, les plus proches d'abord.`;
  if (total > n) texte += ` (${total} en tout.)`;
  if (($("f-ouvert").checked || $("f-samedi").checked) && reponse.unknownHoursSize) {
    texte += ` ${reponse.unknownHoursSize} lieu(x) sans horaires connus ne sont pas montrés.`;
  }
  annoncer(texte);
  if (!performance.getEntriesByName("premiers-resultats").length) performance.mark("premiers-resultats");
  const pro = modePro();
  $("resultats").replaceChildren(...etat.resultats.map(({ venue: v, distanceMeters }) => {
    const li = h("li", { "data-lieu": idDuLieu(v.name) },
      h("h3", null, h("a", { href: lien(`/lieux/${idDuLieu(v.name)}`) }, v.nom)),
      h("p", null, h("span", { class: "distance" }, distanceTexte(distanceMeters)),
        distanceMeters !== undefined ? " · " : "", [v.adresse, v.commune].filter(Boolean).join(", ")),
      (v.services || []).length ? h("p", null, resumeServices(v).slice(0, 3).join(" · ")) : null,
      (v.fraisACharge || []).length ? h("p", null, (v.fraisACharge || []).map((f) => ENUMS[f] || f).join(", ")) : null,
      pro ? h("p", { class: "pro-info" },
        `Source : ${(v.provenance && v.provenance.source) || v.source || "?"} · mis à jour le ${v.dateMaj || "?"}` +
        (v.acceptsApticPass ? " · accepte le pass numérique #APTIC" : "")) : null);
    return li;
  }));
  $("plus-zone").hidden = !etat.suivante;
  majCarte();
}

// ---- The map (optional) ------------------------------------------------------------------------

// The map loads by itself on wide screens; on a phone (where the list comes first and data
// costs) the person asks for it.
function proposerCarte() {
  if (SANS_CARTE || !etat.config.leaflet) return;
  if (matchMedia("(min-width: 60rem)").matches) {
    chargerCarte();
    return;
  }
  $("carte-bouton").hidden = false;
  $("afficher-carte").addEventListener("click", () => {
    $("carte-bouton").hidden = true;
    chargerCarte().then(() => $("carte").focus());
  }, { once: true });
}

async function chargerCarte() {
  let L;
  try {
    L = await import("/vendor/leaflet/leaflet.esm.min.js");
  } catch {
    return; // the list alone
  }
  const css = h("link", { rel: "stylesheet", href: "/vendor/leaflet/leaflet.css" });
  await new Promise((fini) => {
    css.addEventListener("load", fini);
    css.addEventListener("error", fini);
    document.head.append(css);
  });
  if (L.Icon && L.Icon.Default) L.Icon.Default.imagePath = "/vendor/leaflet/images/";
  const div = $("carte");
  div.hidden = false;
  const carte = L.map(div, { center: [ROUBAIX.latitude, ROUBAIX.longitude], zoom: 13, zoomControl: false });
  L.control.zoom({ zoomInTitle: "Agrandir la carte", zoomOutTitle: "Réduire la carte" }).addTo(carte);
  if (etat.config.tilesUrl) {
    L.tileLayer(etat.config.tilesUrl, { maxZoom: 19, attribution: etat.config.tilesAttribution || "" }).addTo(carte);
  }
  etat.carte = { L, carte, couverture: L.featureGroup().addTo(carte), couche: L.layerGroup().addTo(carte) };
  majCarte();
  majCouvertureCarte();
}

function majCarte() {
  if (!etat.carte) return;
  const { L, carte, couche } = etat.carte;
  couche.clearLayers();
  const points = [];
  for (const { venue: v } of etat.resultats) {
    if (typeof v.latitude !== "number" || typeof v.longitude !== "number") continue;
    const popup = h("div", null, h("strong", null, v.nom), h("br"),
      h("a", { href: lien(`/lieux/${idDuLieu(v.name)}`) }, "Voir la fiche du lieu"));
    // Markers are not in the tab order: the list before the map holds the same links.
    L.marker([v.latitude, v.longitude], { keyboard: false, title: v.nom, alt: v.nom }).bindPopup(popup).addTo(couche);
    points.push([v.latitude, v.longitude]);
  }
  if (points.length) carte.fitBounds(points, { padding: [30, 30], maxZoom: 16 });
}

// ---- Coverage of the chosen need by quartier (the indicators service) ----------------------

function classeCouverture(z) {
  if (z.lieux > 0) return 0;
  if (!Number.isFinite(z.distance)) return 4;
  if (z.distance < 1000) return 1;
  if (z.distance < 2000) return 2;
  return 3;
}

function kilometres(m) {
  return `${(m / 1000).toLocaleString("fr-FR", { maximumFractionDigits: 1 })} km`;
}

// The quartiers' figures for the chosen need: a table (which works without the map) and, when
// the map is there, the quartiers shaded. Without the indicators service the section stays hidden.
async function chargerCouverture() {
  const generation = ++etat.generationCouverture;
  const besoin = etat.besoin;
  etat.couverture = null;
  if (!besoin) {
    afficherCouverture();
    return;
  }
  let geo;
  try {
    geo = await api(`/v1/areaLayers/${COUCHE_COUVERTURE}/coverage:export?format=GEOJSON&offers=${encodeURIComponent(besoin.name)}`);
  } catch {
    geo = null;
  }
  if (generation !== etat.generationCouverture) return;
  if (geo && Array.isArray(geo.features) && geo.features.length) {
    const zones = geo.features.map((f) => {
      const p = f.properties || {};
      const o = (p.offers || []).find((x) => x.offer === besoin.name) || {};
      const distance = o.nearest_distance_meters ?? p.nearest_distance_meters;
      const z = {
        code: p.code, nom: p.name || p.code, lieux: o.venue_count ?? p.offer_venue_count ?? 0,
        distance: typeof distance === "number" ? distance : NaN,
        heures: o.hours_open_within_reach ?? p.hours_open_within_reach ?? 0, geometry: f.geometry,
      };
      z.classe = classeCouverture(z);
      return z;
    });
    // The least covered first: where help is missing is what a professional looks for.
    zones.sort((a, b) => b.classe - a.classe || (b.distance || 0) - (a.distance || 0) || a.nom.localeCompare(b.nom, "fr"));
    etat.couverture = { besoin, zones, portee: geo.reach_meters };
  }
  afficherCouverture();
}

function afficherCouverture() {
  const c = etat.couverture;
  $("couverture").hidden = !c;
  document.querySelector(".zone-carte").classList.toggle("avec-couverture", !!c);
  majCouvertureCarte();
  if (!c) return;
  const n = c.zones.length;
  const dedans = c.zones.filter((z) => z.lieux > 0).length;
  $("couverture-etat").textContent = `« ${c.besoin.label} » : proposé dans ${dedans} quartier${dedans > 1 ? "s" : ""} sur ${n}.`;
  $("couverture-legende").replaceChildren(...CLASSES_COUVERTURE.map((k, i) => {
    const combien = c.zones.filter((z) => z.classe === i).length;
    return h("li", { "data-classe": k.id },
      // Colours come from the stylesheet's classes (the CSP forbids inline styles).
      h("span", { class: `pastille couverture-${k.id}`, "aria-hidden": "true" }, String(i + 1)),
      ` ${k.texte} : ${combien} quartier${combien > 1 ? "s" : ""}`);
  }));
  $("couverture-legende-table").textContent = `Lieux proposant « ${c.besoin.label} » par quartier` +
    (c.portee ? ` (heures d'ouverture des lieux à ${kilometres(c.portee)} ou moins)` : "") + ", les moins couverts d'abord.";
  $("couverture-lignes").replaceChildren(...c.zones.map((z) => h("tr", { "data-quartier": z.code },
    h("th", { scope: "row" }, `${z.classe + 1}. ${z.nom}`),
    h("td", null, String(z.lieux)),
    h("td", null, z.lieux > 0 ? "dans le quartier" : Number.isFinite(z.distance) ? kilometres(z.distance) : "aucun"),
    h("td", null, `${Math.round(z.heures)} h`))));
}

function majCouvertureCarte() {
  if (!etat.carte) return;
  const { L, couverture } = etat.carte;
  couverture.clearLayers();
  const c = etat.couverture;
  if (!c) return;
  for (const z of c.zones) {
    if (!z.geometry) continue;
    const k = CLASSES_COUVERTURE[z.classe];
    L.geoJSON({ type: "Feature", geometry: z.geometry, properties: {} }, {
      interactive: false,
      style: { className: `couverture-${k.id}`, color: "#1b1b1b", weight: 1, fillColor: k.couleur, fillOpacity: 0.6 },
    })
      // The class's number on the quartier, as in the legend and the table.
      .bindTooltip(String(z.classe + 1), { permanent: true, direction: "center", className: "couverture-numero" })
      .addTo(couverture);
  }
  // The whole layer in view: the quartiers without the need matter as much as the venues.
  const cadre = couverture.getBounds();
  if (cadre.isValid()) etat.carte.carte.fitBounds(cadre, { padding: [20, 20] });
}

// ---- Where ------------------------------------------------------------------------------------

async function chargerQuartiers() {
  let couches;
  try {
    couches = (await api("/v1/areaLayers")).areaLayers || [];
  } catch {
    return;
  }
  const select = $("quartier");
  for (const couche of couches) {
    const id = couche.name.replace(/^areaLayers\//, "");
    let zones;
    try {
      zones = (await api(`/v1/areaLayers/${encodeURIComponent(id)}/areas`)).areas || [];
    } catch {
      continue;
    }
    if (!zones.length) continue;
    const groupe = h("optgroup", { label: couche.title || id });
    for (const z of zones) groupe.append(h("option", { value: `${id}:${z.code}` }, z.label || z.code));
    select.append(groupe);
  }
}

function autourDeMoi() {
  if (!navigator.geolocation) {
    $("position").textContent = "Votre navigateur ne donne pas votre position : choisissez un quartier.";
    return;
  }
  $("position").textContent = "Recherche de votre position…";
  navigator.geolocation.getCurrentPosition((pos) => {
    etat.position = { latitude: pos.coords.latitude, longitude: pos.coords.longitude };
    $("quartier").value = "";
    $("position").textContent = "Lieux autour de votre position.";
    chercherLieux();
  }, () => {
    $("position").textContent = "Position non disponible : les lieux sont classés depuis le centre de Roubaix.";
  }, { timeout: 10000, maximumAge: 300000 });
}

// ---- CSV of the current list ------------------------------------------------------------------

function celluleCsv(valeur) {
  let s = Array.isArray(valeur) ? valeur.join("|") : valeur === undefined || valeur === null ? "" : String(valeur);
  // A value a spreadsheet would run as a formula is neutralised (docs robustness, exports).
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n;]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csvDesResultats() {
  const entete = [...COLONNES.map(([nom]) => nom), "accepte_pass_aptic", "items_referentiel", "distance_metres"];
  const lignes = [entete.join(",")];
  for (const { venue: v, distanceMeters } of etat.resultats) {
    const valeurs = COLONNES.map(([, champ]) => {
      const x = v[champ];
      return Array.isArray(x) ? x.map((e) => ENUMS[e] || (SERVICES[e] ? SERVICES[e][0] : e)) : x;
    });
    valeurs.push(v.acceptsApticPass ? "true" : "false", v.referentialItems || [],
      distanceMeters === undefined ? "" : Math.round(distanceMeters));
    lignes.push(valeurs.map(celluleCsv).join(","));
  }
  return `${lignes.join("\r\n")}\r\n`;
}

function telechargerCsv() {
  const blob = new Blob(["\ufeff", csvDesResultats()], { type: "text/csv;charset=utf-8" });
  const a = h("a", { href: URL.createObjectURL(blob), download: "lieux-passerelle.csv" });
  document.body.append(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(a.href);
    a.remove();
  }, 1000);
}

// ---- A venue's page ---------------------------------------------------------------------------

function liste(valeurs, libelle) {
  const v = (valeurs || []).filter(Boolean);
  if (!v.length) return null;
  return h("ul", null, v.map((x) => h("li", null, libelle ? libelle(x) : x)));
}

function ligne(dt, dd) {
  if (dd === null || dd === undefined || dd === "" || (Array.isArray(dd) && !dd.length)) return [];
  return [h("dt", null, dt), h("dd", null, dd)];
}

async function horaires(v) {
  // The venues service's reading of the hours, when it offers one; else the hours as written.
  const id = idDuLieu(v.name);
  try {
    const s = await api(`/v1/venues/${encodeURIComponent(id)}/openingSchedule?time=${encodeURIComponent(rfc3339(maintenant()))}&days=7`);
    return s;
  } catch {
    return null;
  }
}

// "09:30" → "9 h 30", "14:00" → "14 h".
function heure(hhmm) {
  const [hh, mm] = String(hhmm).split(":");
  return `${Number(hh)} h${mm && mm !== "00" ? ` ${mm}` : ""}`;
}

// Local date (YYYY-MM-DD) and time of an instant in Roubaix.
function enLocal(date) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("fr-FR", {
    timeZone: "Europe/Paris", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", weekday: "long", hourCycle: "h23",
  }).formatToParts(date).map((p) => [p.type, p.value]));
  return { jour: `${parts.year}-${parts.month}-${parts.day}`, heure: `${parts.hour}:${parts.minute}`, semaine: parts.weekday };
}

// « aujourd'hui à 14 h », « demain à 9 h », « lundi à 9 h » within the week, « lundi 25 décembre
// à 9 h » beyond it (a bare weekday would read as this week's), « à minuit » for 0 h.
function quand(instant) {
  const date = new Date(instant);
  const a = enLocal(date);
  const ici = enLocal(maintenant());
  const demain = enLocal(new Date(maintenant().getTime() + 86400000));
  const proche = date.getTime() - maintenant().getTime() < 6 * 86400000;
  const jour = a.jour === ici.jour ? "aujourd'hui" : a.jour === demain.jour ? "demain"
    : proche ? a.semaine
      : new Intl.DateTimeFormat("fr-FR", { timeZone: "Europe/Paris", weekday: "long", day: "numeric", month: "long" }).format(date);
  return a.heure === "00:00" ? `${jour} à minuit` : `${jour} à ${heure(a.heure)}`;
}

function sectionHoraires(v, s) {
  const sec = h("section", { "aria-labelledby": "titre-horaires" }, h("h2", { id: "titre-horaires" }, "Horaires"));
  if (!v.horaires) {
    sec.append(h("p", null, "Horaires non renseignés : téléphonez avant de venir."));
    return sec;
  }
  if (s && s.understood) {
    if (s.currentState === "HOURS_STATE_OPEN") {
      sec.append(h("p", { class: "ouvert", id: "etat-ouverture" }, "Ouvert en ce moment",
        s.nextCloseTime ? `, jusqu'à ${quand(s.nextCloseTime).replace(/^aujourd'hui à /, "")}` : "", "."));
    } else if (s.currentState === "HOURS_STATE_CLOSED") {
      sec.append(h("p", { class: "ferme", id: "etat-ouverture" }, "Fermé en ce moment.",
        s.nextOpenTime ? ` Ouvre ${quand(s.nextOpenTime)}.` : ""));
    } else {
      sec.append(h("p", { id: "etat-ouverture" }, "En ce moment : à confirmer",
        s.currentComment ? ` (${s.currentComment})` : "", "."));
    }
    // In words when the registry can say them; else the days below say them.
    if (s.description) sec.append(h("p", null, s.description));
    if (Array.isArray(s.days) && s.days.length) {
      const tbody = h("tbody");
      for (const j of s.days) {
        const date = new Date(`${j.date}T12:00:00Z`);
        const periodes = (j.periods || []).map((p) => {
          let t = `${heure(p.start)} – ${heure(p.end)}`;
          if (p.state === "HOURS_STATE_UNKNOWN") t += ` (${p.comment || "à confirmer"})`;
          else if (p.comment) t += ` (${p.comment})`;
          return t;
        });
        tbody.append(h("tr", null,
          h("th", { scope: "row" }, `${JOURS[date.getUTCDay()]} ${date.toLocaleDateString("fr-FR", { day: "numeric", month: "long", timeZone: "UTC" })}`),
          h("td", null, (periodes.length ? periodes.join(", ") : "fermé") + (j.publicHoliday ? " (jour férié)" : ""))));
      }
      sec.append(h("table", { class: "horaires" }, h("caption", { class: "aide" }, "Les prochains jours"), tbody));
    }
  } else {
    // Hours the registry cannot read (free text, a syntax error), or no answer from it: said
    // plainly, with the hours as published one click away rather than as the page's answer.
    sec.append(h("p", { id: "etat-ouverture" }, s
      ? "Ces horaires sont écrits d'une façon que nous ne savons pas lire : téléphonez avant de venir."
      : "Les horaires ne peuvent pas être affichés pour le moment : téléphonez avant de venir."));
    if (!modePro()) {
      sec.append(h("details", { class: "horaires-publies" },
        h("summary", null, "Voir les horaires tels que le lieu les a publiés"),
        h("p", null, h("code", null, v.horaires))));
    }
  }
  if (modePro()) sec.append(h("p", { class: "pro-info" }, `horaires (OpenStreetMap) : ${v.horaires}`));
  return sec;
}

async function libellesItems(noms) {
  const items = await Promise.all((noms || []).slice(0, 30).map((n) =>
    api(`/v1/${n.split("/").map(encodeURIComponent).join("/")}`).catch(() => null)));
  return items.map((it, i) => (it ? { name: noms[i], code: it.code, label: it.label, plain: it.plainLabel || it.label } : { name: noms[i] }));
}

async function afficherLieu(id) {
  const vue = $("vue-lieu");
  let v;
  try {
    v = await api(`/v1/venues/${encodeURIComponent(id)}`);
  } catch (e) {
    document.title = "Lieu introuvable — Passerelle";
    vue.replaceChildren(h("h1", null, "Lieu introuvable"),
      h("p", null, e.status === 404 || e.status === 400 ? "Ce lieu n'existe pas ou plus dans le registre." : e.message),
      h("p", null, h("a", { href: lien("/") }, "Chercher un autre lieu")));
    return;
  }
  const [s, items] = await Promise.all([horaires(v), libellesItems(v.referentialItems)]);
  document.title = `${v.nom} — Passerelle`;
  const pro = modePro();
  const a = typeof v.latitude === "number" && typeof v.longitude === "number";
  const site = (v.siteWeb || []).map(httpUrl).filter(Boolean);
  const adresse = [v.adresse, v.complementAdresse, `${v.codePostal || ""} ${v.commune || ""}`.trim()].filter(Boolean);

  const contenu = [
    h("p", { class: "actions" }, h("a", { href: lien("/") }, "← Retour à la recherche"),
      h("button", { type: "button", id: "imprimer", class: "secondaire" }, "Imprimer cette fiche")),
    h("h1", null, v.nom),
    v.state === "WITHDRAWN" ? h("p", { class: "ferme" }, "Ce lieu a été retiré du registre.") : null,
    v.presentationResume ? h("p", null, v.presentationResume) : null,
    h("section", { "aria-labelledby": "titre-adresse" }, h("h2", { id: "titre-adresse" }, "Adresse et contact"),
      h("dl", null,
        ...ligne("Adresse", adresse.join(", ")),
        ...ligne("Y aller", a ? h("span", null,
          h("a", { href: `geo:${v.latitude},${v.longitude}` }, "Ouvrir dans une application de cartes"), " · ",
          h("a", { href: `https://www.openstreetmap.org/directions?to=${v.latitude}%2C${v.longitude}`, rel: "noopener" }, "Itinéraire sur OpenStreetMap")) : null),
        ...ligne("Téléphone", v.telephone ? h("a", { href: `tel:${v.telephone.replace(/[^+0-9]/g, "")}` }, telephoneTexte(v.telephone)) : null),
        ...ligne("Courriel", (v.courriels || []).length ? h("span", null, (v.courriels || []).map((c, i) => [i ? ", " : "", adresseCourriel(c) ? h("a", { href: `mailto:${c}` }, c) : c])) : null),
        ...ligne("Site web", site.length ? h("span", null, site.map((u, i) => [i ? ", " : "", h("a", { href: u, rel: "noopener" }, u)])) : null),
        ...ligne("Prendre rendez-vous", httpUrl(v.priseRdv) ? h("a", { href: httpUrl(v.priseRdv), rel: "noopener" }, "Prendre rendez-vous en ligne") : null),
        ...ligne("Accessibilité", httpUrl(v.ficheAccesLibre) ? h("a", { href: httpUrl(v.ficheAccesLibre), rel: "noopener" }, "Fiche Accès libre") : null))),
    sectionHoraires(v, s),
    h("section", { "aria-labelledby": "titre-aide" }, h("h2", { id: "titre-aide" }, "L'aide proposée"),
      h("dl", null,
        ...ligne("Services", liste(v.services, (x) => (SERVICES[x] ? (pro ? SERVICES[x][0] : SERVICES[x][1]) : x))),
        ...ligne("Besoins", liste(items, (it) => (pro && it.code ? `${it.label} (${it.code})` : it.plain || it.name))),
        ...ligne("Comment venir", liste(v.modalitesAcces, (x) => ENUMS[x] || x)),
        ...ligne("Accompagnement", liste(v.modalitesAccompagnement, (x) => ENUMS[x] || x)),
        ...ligne("Tarifs", liste(v.fraisACharge, (x) => ENUMS[x] || x)),
        ...ligne("Pour qui", liste(v.publicsSpecifiquementAdresses, (x) => ENUMS[x] || x)),
        ...ligne("Aide adaptée", liste(v.priseEnChargeSpecifique, (x) => ENUMS[x] || x)),
        ...ligne("Pass numérique", v.acceptsApticPass ? "Accepte le pass numérique #APTIC" : null))),
    v.presentationDetail ? h("section", { "aria-labelledby": "titre-detail" }, h("h2", { id: "titre-detail" }, "En détail"), h("p", null, v.presentationDetail)) : null,
  ];
  if (pro) contenu.push(tableauPro(v));
  contenu.push(h("p", { class: "aide" }, `Informations mises à jour le ${v.dateMaj || "?"}${v.source ? ` par ${v.source}` : ""}.`));
  vue.replaceChildren(...contenu.filter(Boolean));
  $("imprimer").addEventListener("click", () => window.print());
}

function tableauPro(v) {
  const tbody = h("tbody");
  const champs = [...COLONNES,
    ["accepts_aptic_pass (#APTIC)", "acceptsApticPass"], ["referential_items", "referentialItems"],
    ["areas", "areas"], ["owner_organisation", "ownerOrganisation"], ["state", "state"]];
  for (const [nom, champ] of champs) {
    let x = v[champ];
    if (typeof x === "boolean") x = x ? "oui" : "non";
    tbody.append(h("tr", null, h("th", { scope: "row" }, nom), h("td", null, Array.isArray(x) ? x.join(" | ") : x ?? "")));
  }
  const p = v.provenance || {};
  tbody.append(h("tr", null, h("th", { scope: "row" }, "provenance"),
    h("td", null, `${p.source || "?"} / ${p.sourceId || "?"} (vu le ${p.lastSeenTime || "?"})`)));
  return h("section", { "aria-labelledby": "titre-pro" }, h("h2", { id: "titre-pro" }, "Toutes les données (standard national)"),
    h("table", { class: "pro" }, h("caption", { class: "aide" }, "Champs du standard des lieux de médiation numérique v1.0.2 et de Passerelle"),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Champ"), h("th", { scope: "col" }, "Valeur"))), tbody));
}

// ---- Start ------------------------------------------------------------------------------------

async function demarrer() {
  const pro = localStorage.getItem("passerelle.pro") === "1";
  document.body.classList.toggle("pro", pro);
  $("mode-pro").checked = pro;
  try {
    etat.config = { ...etat.config, ...(await api("/web/config.json")) };
  } catch {
    // defaults: no tiles, no map
  }
  const m = location.pathname.match(/^\/lieux\/([A-Za-z0-9._~-]+)$/);
  if (m) {
    if (!$("vue-lieu")) {
      // Served the search page (no lieu.html): the venue takes its place.
      $("vue-recherche").hidden = true;
      $("contenu").append(h("article", { id: "vue-lieu", class: "fiche" }));
    }
    $("mode-pro").addEventListener("change", () => {
      localStorage.setItem("passerelle.pro", $("mode-pro").checked ? "1" : "0");
      document.body.classList.toggle("pro", $("mode-pro").checked);
      afficherLieu(m[1]);
    });
    await afficherLieu(m[1]);
    return;
  }
  $("mode-pro").addEventListener("change", () => {
    localStorage.setItem("passerelle.pro", $("mode-pro").checked ? "1" : "0");
    document.body.classList.toggle("pro", $("mode-pro").checked);
    // The results shown in the inhabitants' view lack what the professional one shows: asked again.
    if ($("mode-pro").checked && etat.requete) chercherLieux();
    else afficherResultats({ totalSize: etat.total });
    chargerItems();
    if ($("besoin").value) chercherBesoins($("besoin").value);
  });
  $("besoin").addEventListener("input", () => {
    clearTimeout(minuterieBesoin);
    const texte = $("besoin").value;
    minuterieBesoin = setTimeout(() => chercherBesoins(texte), 250);
  });
  $("form-besoin").addEventListener("submit", (e) => {
    e.preventDefault();
    clearTimeout(minuterieBesoin);
    chercherBesoins($("besoin").value);
  });
  $("besoin-retirer").addEventListener("click", () => {
    choisirBesoin(null);
    $("besoin").focus();
  });
  $("autour").addEventListener("click", autourDeMoi);
  $("quartier").addEventListener("change", () => {
    if ($("quartier").value) etat.position = null;
    chercherLieux();
  });
  // « Ouvert maintenant » and « Ouvert samedi » ask different questions: one at a time.
  $("f-ouvert").addEventListener("change", () => { if ($("f-ouvert").checked) $("f-samedi").checked = false; });
  $("f-samedi").addEventListener("change", () => { if ($("f-samedi").checked) $("f-ouvert").checked = false; });
  for (const id of ["f-ouvert", "f-samedi", "f-gratuit", "f-rdv", "f-public", "f-accompagnement"]) {
    $(id).addEventListener("change", chercherLieux);
  }
  $("form-filtres").addEventListener("submit", (e) => e.preventDefault());
  $("csv").addEventListener("click", telechargerCsv);
  $("plus").addEventListener("click", plusDeResultats);
  $("f-item").addEventListener("change", () => {
    const o = $("f-item").selectedOptions[0];
    choisirBesoin($("f-item").value ? { name: $("f-item").value, label: o.textContent } : null);
  });
  chargerItems();
  $("resultats-titre").setAttribute("tabindex", "-1");
  await chercherLieux();
  chargerQuartiers();
  proposerCarte();
}

demarrer();
