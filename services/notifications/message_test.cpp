// Unit tests of what an e-mail says (message.hpp): each event type in French, the issue's
// example, hostile values, digests grouped and capped, dates in Europe/Paris.
#include "services/notifications/message.hpp"

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/text/utf8.hpp"
#include "passerelle/indicators/v1/events.pb.h"
#include "passerelle/notifications/v1/notifications.pb.h"
#include "passerelle/referential/v1/events.pb.h"
#include "passerelle/sync/v1/events.pb.h"
#include "passerelle/venues/v1/events.pb.h"

namespace passerelle::notifications {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::string_literals;

// The text part with its line breaks undone, to look for a sentence wherever it was wrapped.
std::string Flat(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n') {
      out += text[i];
      continue;
    }
    while (i + 1 < text.size() && text[i + 1] == ' ') ++i;
    out += ' ';
  }
  return out;
}

events::v1::Event Make(std::string type, const google::protobuf::Message& payload,
                       std::string subject = "venues/1") {
  events::v1::Event e;
  e.set_id("e1");
  e.set_type(std::move(type));
  e.set_subject(std::move(subject));
  e.mutable_payload()->PackFrom(payload);
  return e;
}

venues::v1::Venue Mediatheque() {
  venues::v1::Venue v;
  v.set_name("venues/1");
  v.set_nom("Médiathèque Jean Lévy");
  v.set_adresse("20 rue Jean Moulin");
  v.set_code_postal("59100");
  v.set_commune("Roubaix");
  v.set_horaires("Mo 09:00-12:00");
  v.set_telephone("+33320000000");
  return v;
}

events::v1::Event Updated(const venues::v1::Venue& before, const venues::v1::Venue& after,
                          const std::vector<std::string>& fields, bool with_before = true) {
  venues::v1::VenueUpdated u;
  *u.mutable_venue() = after;
  if (with_before) *u.mutable_previous_venue() = before;
  for (const auto& f : fields) u.add_changed_fields(f);
  return Make("venue.updated", u, after.name());
}

// Every line of the text part within the width, unless it is one word.
void ExpectWrapped(const std::string& text) {
  for (const auto& piece : absl::StrSplit(text, '\n')) {
    const std::string line(piece);
    if (text::CodePoints(line) <= kTextWidth) continue;
    const std::string body = line.substr(line.find_first_not_of(" -"));
    EXPECT_EQ(body.find(' '), std::string::npos) << "line too long: " << line;
  }
}

void ExpectClean(const Message& m) {
  EXPECT_TRUE(text::IsValidUtf8(m.subject));
  EXPECT_TRUE(text::IsValidUtf8(m.text));
  EXPECT_TRUE(text::IsValidUtf8(m.html));
  EXPECT_FALSE(text::FirstControl(m.subject).has_value()) << m.subject;
  EXPECT_EQ(m.subject.find_first_of("\r\n\t"), std::string::npos);
  EXPECT_LE(text::CodePoints(m.subject), kMaxSubjectCodePoints);
  EXPECT_EQ(m.text.find('\r'), std::string::npos);
  EXPECT_EQ(m.text.find('\0'), std::string::npos);
  EXPECT_EQ(m.html.find('\0'), std::string::npos);
  EXPECT_THAT(m.html, Not(HasSubstr("<html"))) << "a fragment";
  ExpectWrapped(m.text);
}

TEST(MessageTest, TheIssuesExampleHoursBeforeAndAfter) {
  venues::v1::Venue before = Mediatheque();
  venues::v1::Venue after = before;
  after.set_horaires("Mo-Fr 09:00-12:00,14:00-17:00; Sa 09:30-12:00");
  const Message m = Describe(Updated(before, after, {"horaires"}));
  EXPECT_EQ(m.subject, "Les horaires de Médiathèque Jean Lévy ont changé");
  EXPECT_THAT(Flat(m.text),
              HasSubstr("Les horaires de Médiathèque Jean Lévy ont changé : - Les horaires"));
  EXPECT_THAT(Flat(m.text),
              HasSubstr("- Les horaires : lundi 9 h – 12 h devient du lundi au vendredi"));
  EXPECT_THAT(Flat(m.text), HasSubstr("9 h – 12 h et 14 h – 17 h ; samedi 9 h 30 – 12 h"));
  EXPECT_THAT(m.html, HasSubstr("<li>Les horaires : lundi 9 h – 12 h devient du lundi au "
                                "vendredi 9 h – 12 h et 14 h – 17 h ; samedi 9 h 30 – 12 h</li>"));
  ExpectClean(m);
}

TEST(MessageTest, HoursNotUnderstoodAreShownAsWritten) {
  venues::v1::Venue before = Mediatheque();
  venues::v1::Venue after = before;
  after.set_horaires("Mo[1] 10:00-12:00");  // understood by the registry, not said in French
  venues::v1::Venue odd = before;
  odd.set_horaires("lundi matin sauf vacances");
  EXPECT_THAT(Flat(Describe(Updated(before, after, {"horaires"})).text),
              HasSubstr("lundi 9 h – 12 h devient Mo[1] 10:00-12:00"));
  EXPECT_THAT(Flat(Describe(Updated(before, odd, {"horaires"})).text),
              HasSubstr("devient lundi matin sauf vacances"));
}

TEST(MessageTest, SeveralFieldsListsAndEmptyValues) {
  venues::v1::Venue before = Mediatheque();
  venues::v1::Venue after = before;
  after.set_telephone("");
  after.add_site_web("https://exemple.fr");
  after.add_services(venues::v1::SERVICE_AIDE_AUX_DEMARCHES_ADMINISTRATIVES);
  after.add_services(venues::v1::SERVICE_ACCES_INTERNET_ET_MATERIEL_INFORMATIQUE);
  after.set_adresse("1 place de la Liberté");
  const Message m =
      Describe(Updated(before, after, {"telephone", "site_web", "services", "adresse"}));
  EXPECT_EQ(m.subject, "Médiathèque Jean Lévy a changé (4 informations)");
  EXPECT_THAT(Flat(m.text), HasSubstr("- Le téléphone : +33320000000 devient (vide) - "));
  EXPECT_THAT(Flat(m.text), HasSubstr("- Le site web : (vide) devient https://exemple.fr - "));
  EXPECT_THAT(Flat(m.text), HasSubstr("- Les services : (vide) devient Aide aux démarches "
                                      "administratives, Accès internet et matériel informatique"));
  EXPECT_THAT(Flat(m.text),
              HasSubstr("- L'adresse : 20 rue Jean Moulin devient 1 place de la Liberté"));
  const Message one = Describe(Updated(before, after, {"telephone"}));
  EXPECT_EQ(one.subject, "Le téléphone de Médiathèque Jean Lévy a changé");
}

// A venue hidden as the duplicate of another (or brought back) is named in French, not by the
// field's name.
TEST(MessageTest, AHiddenDuplicateIsSaidInFrench) {
  venues::v1::Venue before = Mediatheque(), after = Mediatheque();
  after.set_duplicate_of("venues/00000000-0000-4000-8000-000000000001");
  const Message m = Describe(Updated(before, after, {"duplicate_of"}));
  EXPECT_EQ(m.subject,
            "Le rattachement à un lieu identique (doublon) de Médiathèque Jean Lévy a changé");
  EXPECT_THAT(Flat(m.text), Not(HasSubstr("duplicate_of")));
}

TEST(MessageTest, WithoutThePreviousVenueSaysWhichFieldsChanged) {
  venues::v1::Venue after = Mediatheque();
  const Message m = Describe(Updated({}, after, {"telephone", "horaires"}, false));
  EXPECT_THAT(Flat(m.text), HasSubstr("les valeurs précédentes ne sont pas connues"));
  EXPECT_THAT(Flat(m.text), HasSubstr("- Le téléphone - "));
  EXPECT_THAT(Flat(m.text), HasSubstr("- Les horaires "));
  EXPECT_THAT(Flat(m.text), Not(HasSubstr("devient")));
}

TEST(MessageTest, CreatedWithdrawnAndTheOtherEvents) {
  venues::v1::VenueCreated c;
  *c.mutable_venue() = Mediatheque();
  const Message created = Describe(Make("venue.created", c));
  EXPECT_EQ(created.subject, "Nouveau lieu : Médiathèque Jean Lévy");
  EXPECT_THAT(Flat(created.text),
              HasSubstr("Nouveau lieu : Médiathèque Jean Lévy, 20 rue Jean Moulin, "
                        "59100 Roubaix"));

  venues::v1::VenueWithdrawn w;
  w.set_name("venues/1");
  w.set_reason("fermeture définitive");
  const Message withdrawn = Describe(Make("venue.withdrawn", w));
  EXPECT_EQ(withdrawn.subject, "venues/1 a été retiré du registre");
  EXPECT_THAT(Flat(withdrawn.text),
              HasSubstr("venues/1 a été retiré du registre : fermeture définitive"));

  referential::v1::VersionPublished v;
  v.set_version("nomenclatures/offres/versions/3");
  v.set_previous_version("nomenclatures/offres/versions/2");
  v.add_items_added("items/a");
  v.add_items_added("items/b");
  v.add_items_retired("items/c");
  const Message version =
      Describe(Make("referential.version.published", v, "nomenclatures/offres"));
  EXPECT_THAT(version.subject, HasSubstr("Nouvelle version du référentiel"));
  EXPECT_THAT(Flat(version.text), HasSubstr("2 éléments ajoutés, 1 retiré, 0 renommé, 0 déplacé"));

  sync::v1::RunCompleted ok;
  ok.mutable_run()->set_name("sources/cd59/runs/7");
  ok.mutable_run()->set_state(sync::v1::Run::SUCCEEDED);
  ok.mutable_run()->set_created(3);
  ok.mutable_run()->set_updated(1);
  const Message run = Describe(Make("sync.run.completed", ok, "sources/cd59"));
  EXPECT_EQ(run.subject, "La synchronisation sources/cd59/runs/7 est terminée");
  EXPECT_THAT(Flat(run.text), HasSubstr("3 lieux créés, 1 mis à jour, 0 inchangé"));
  sync::v1::RunCompleted failed = ok;
  failed.mutable_run()->set_state(sync::v1::Run::FAILED);
  failed.mutable_run()->set_error("fichier introuvable (HTTP 404)");
  EXPECT_THAT(Flat(Describe(Make("sync.run.completed", failed)).text),
              HasSubstr("a échoué : fichier introuvable (HTTP 404)"));

  indicators::v1::ReportSubmitted r;
  r.set_name("activityReports/42");
  r.set_organisation("centre-social-epeule");
  r.set_revision(2);
  r.set_period_start("2026-10-01");
  r.set_period_end("2026-10-31");
  const Message report = Describe(Make("indicators.report.submitted", r));
  EXPECT_THAT(Flat(report.text),
              HasSubstr("pour la période du 2026-10-01 au 2026-10-31 a été corrigé "
                        "(révision 2, 0 lieu concerné)"));

  events::v1::Event test;
  test.set_type("notification.test");
  EXPECT_THAT(Flat(Describe(test).text), HasSubstr("Ceci est un essai"));
}

TEST(MessageTest, UnknownTypeOrUndecodablePayloadGivesAGenericSentence) {
  events::v1::Event unknown;
  unknown.set_type("venue.teleported");
  unknown.set_subject("venues/9");
  EXPECT_THAT(Flat(Describe(unknown).text), HasSubstr("Un événement de type « venue.teleported »"));
  // A payload of another type, and bytes that are no message at all.
  events::v1::Event wrong = Make("venue.updated", referential::v1::VersionPublished());
  EXPECT_THAT(Describe(wrong).text, HasSubstr("« venue.updated »"));
  events::v1::Event garbage;
  garbage.set_type("venue.created");
  garbage.mutable_payload()->set_type_url("type.googleapis.com/passerelle.venues.v1.VenueCreated");
  garbage.mutable_payload()->set_value(std::string("\xff\xff\xff\x01", 4));
  const Message m = Describe(garbage);
  EXPECT_THAT(Flat(m.text), HasSubstr("« venue.created »"));
  ExpectClean(m);
}

TEST(MessageTest, HtmlEscapesEveryValue) {
  venues::v1::VenueCreated c;
  *c.mutable_venue() = Mediatheque();
  c.mutable_venue()->set_nom("<script>alert('x')</script> & \"Cie\"");
  const Message m = Describe(Make("venue.created", c));
  EXPECT_THAT(m.html, Not(HasSubstr("<script>")));
  EXPECT_THAT(m.html, HasSubstr("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
                                "&quot;Cie&quot;"));
  EXPECT_THAT(Flat(m.text), HasSubstr("<script>alert('x')</script>"));  // plain text keeps it
}

TEST(MessageTest, ControlCharactersNeverReachTheSubject) {
  venues::v1::Venue before = Mediatheque();
  venues::v1::Venue after = before;
  // CR/LF, NUL, a C0 and a C1 control (NEL), a bidirectional override, a line separator.
  after.set_nom("Evil\r\nBcc: victim@example.org\0\x01 caf\xc2\x85\xe2\x80\xae\xe2\x80\xa8!"s);
  after.set_telephone("03\r\n20\0 00"s);
  const Message m = Describe(Updated(before, after, {"telephone"}));
  ExpectClean(m);
  EXPECT_EQ(m.subject, "Le téléphone de Evil Bcc: victim@example.org caf ! a changé");
  EXPECT_THAT(Flat(m.text), HasSubstr("devient 03 20 00"));
  EXPECT_THAT(m.html, Not(HasSubstr("\r")));
  EXPECT_THAT(m.html, Not(HasSubstr("\xe2\x80\xae")));
}

// Protobuf refuses invalid UTF-8 in a payload's strings (the generic sentence then), but the
// envelope's own fields arrive as they are.
TEST(MessageTest, InvalidUtf8IsReplaced) {
  events::v1::Event e;
  e.set_type("venue.\xff\xfe\r\nBcc: x"s);
  e.set_subject("venues/\xc3\0"s);
  const Message m = Describe(e);
  ExpectClean(m);
  EXPECT_EQ(m.subject, "Notification Passerelle : venue.\xEF\xBF\xBD\xEF\xBF\xBD Bcc: x");
  EXPECT_THAT(Flat(m.text), HasSubstr("(venues/\xEF\xBF\xBD)"));

  venues::v1::VenueWithdrawn w;
  w.set_name("venues/1");
  events::v1::Event bad = Make("venue.withdrawn", w);
  std::string bytes = bad.payload().value();
  bytes += "\x12\x02\xff\xfe"s;  // reason = FF FE
  bad.mutable_payload()->set_value(bytes);
  const Message generic = Describe(bad);
  ExpectClean(generic);
  EXPECT_THAT(Flat(generic.text), HasSubstr("« venue.withdrawn »"));
}

TEST(MessageTest, HugeValuesAreCutOnCodePoints) {
  venues::v1::Venue before = Mediatheque();
  venues::v1::Venue after = before;
  std::string huge;
  while (huge.size() < 100 * 1024) huge += "é";
  after.set_nom(huge);
  after.set_presentation_detail(huge);
  const Message m = Describe(Updated(before, after, {"presentation_detail"}));
  ExpectClean(m);
  EXPECT_LT(m.text.size(), 3000u);
  EXPECT_LT(m.html.size(), 3000u);
  EXPECT_THAT(Flat(m.text), HasSubstr("éé…"));
  // The value is cut at kMaxValueCodePoints, the ellipsis included.
  const std::string cut = std::string(m.text.substr(m.text.find("devient") + 7));
  std::string joined;
  for (char c : cut) {
    if (c != '\n' && c != ' ') joined += c;
  }
  EXPECT_EQ(text::CodePoints(joined), kMaxValueCodePoints) << m.text;
}

// Review finding F4: `unknown` hours were said « 24 h sur 24 ».
TEST(MessageTest, UnknownHoursAreSaidUnknown) {
  venues::v1::Venue before = Mediatheque();
  venues::v1::Venue after = before;
  after.set_horaires(R"(Mo unknown "appeler avant"; Sa off "ouvert sur rendez-vous")");
  const std::string text = Flat(Describe(Updated(before, after, {"horaires"})).text);
  EXPECT_THAT(text, HasSubstr("devient lundi horaires inconnus (appeler avant) ; samedi fermé "
                              "(ouvert sur rendez-vous)"));
  EXPECT_THAT(text, Not(HasSubstr("24 h sur 24")));
  // Hours marked unknown are shown as written, not as opening hours.
  after.set_horaires(R"(Mo-Fr 09:00-12:00 unknown "peut-être")");
  EXPECT_THAT(Flat(Describe(Updated(before, after, {"horaires"})).text),
              HasSubstr(R"(devient Mo-Fr 09:00-12:00 unknown "peut-être")"));
}

// Review finding F7: « X devient X ». Each case says something true instead.
TEST(MessageTest, TwoValuesThatReadTheSameAreNeverSaidToBecomeEachOther) {
  const venues::v1::Venue base = Mediatheque();
  auto said = [&](const venues::v1::Venue& before, const venues::v1::Venue& after,
                  const std::string& field) {
    const Message m = Describe(Updated(before, after, {field}));
    ExpectClean(m);
    EXPECT_THAT(m.text, Not(HasSubstr("devient"))) << m.text;
    return Flat(m.text);
  };
  // Hours written differently with the same days and hours.
  venues::v1::Venue before = base, after = base;
  before.set_horaires("Mo-Fr 09:00-17:00");
  after.set_horaires("Mo,Tu,We,Th,Fr 09:00-17:00");
  EXPECT_THAT(said(before, after, "horaires"),
              HasSubstr("- Les horaires ont été réécrits sans changer les jours ni les heures : "
                        "du lundi au vendredi 9 h – 17 h"));
  // A latitude change beyond the six decimals shown.
  before = base, after = base;
  before.set_latitude(50.6900001);
  after.set_latitude(50.6900002);
  EXPECT_THAT(said(before, after, "latitude"),
              HasSubstr("- La latitude : modification non montrée (la différence ne tient pas "
                        "dans ce message)"));
  // A presentation that differs after the part shown.
  before = base, after = base;
  before.set_presentation_resume(std::string(300, 'a') + "b");
  after.set_presentation_resume(std::string(300, 'a') + "c");
  EXPECT_THAT(said(before, after, "presentation_resume"),
              HasSubstr("- La présentation : modification non montrée"));
  // 25 addresses, the 25th changed: the one removed and the one added are named.
  before = base, after = base;
  for (int i = 1; i <= 25; ++i) {
    before.add_courriels(absl::StrCat("contact", i, "@mediatheque-roubaix.fr"));
    after.add_courriels(i == 25 ? "accueil@mediatheque-roubaix.fr"
                                : absl::StrCat("contact", i, "@mediatheque-roubaix.fr"));
  }
  EXPECT_THAT(said(before, after, "courriels"),
              HasSubstr("- Les courriels : en moins contact25@mediatheque-roubaix.fr ; en plus "
                        "accueil@mediatheque-roubaix.fr"));
  // The same values in another order (beyond the ones shown); a field said changed with the
  // same value.
  after = before;
  after.mutable_courriels()->SwapElements(22, 23);
  EXPECT_THAT(said(before, after, "courriels"),
              HasSubstr("- Les courriels : mêmes valeurs dans un autre ordre"));
  EXPECT_THAT(said(base, base, "telephone"),
              HasSubstr("- Le téléphone : valeur inchangée (+33320000000)"));
}

TEST(MessageTest, ListsAreCutOnWholeValuesWithTheCountOfTheOthers) {
  venues::v1::Venue before = Mediatheque();
  venues::v1::Venue after = before;
  std::vector<std::string> addresses;
  for (int i = 1; i <= 25; ++i) {
    addresses.push_back(absl::StrCat("contact", i, "@mediatheque-roubaix.fr"));
    after.add_courriels(addresses.back());
  }
  const std::string text = Flat(Describe(Updated(before, after, {"courriels"})).text);
  const size_t from = text.find("devient ");
  ASSERT_NE(from, std::string::npos) << text;
  const std::string list = text.substr(from + 8);
  EXPECT_THAT(list, Not(HasSubstr("…")));
  // Every value shown is whole; the count says how many are not.
  const std::vector<std::string> shown = absl::StrSplit(list.substr(0, list.find(" et ")), ", ");
  ASSERT_GE(shown.size(), 2u);
  ASSERT_LT(shown.size(), 25u);
  for (size_t i = 0; i < shown.size(); ++i) EXPECT_EQ(shown[i], addresses[i]);
  EXPECT_THAT(list, HasSubstr(absl::StrCat(" et ", 25 - shown.size(), " autres")));
  EXPECT_LE(text::CodePoints(list.substr(0, list.find(" - "))), kMaxValueCodePoints);
}

TEST(MessageTest, TheEmptyMarkerCannotBeTakenForAValue) {
  venues::v1::Venue before = Mediatheque();
  before.set_nom("(vide)");
  venues::v1::Venue after = before;
  after.set_nom("");
  EXPECT_THAT(Flat(Describe(Updated(before, after, {"nom"})).text),
              HasSubstr("- Le nom : « (vide) » devient (vide)"));
  after.set_nom("« (vide) »");
  EXPECT_THAT(Flat(Describe(Updated(before, after, {"nom"})).text),
              HasSubstr("- Le nom : « (vide) » devient « « (vide) » »"));
  // In a list: an empty value and a value written « (vide) ».
  venues::v1::Venue list = Mediatheque();
  list.add_courriels("(vide)");
  list.add_courriels("");
  EXPECT_THAT(Flat(Describe(Updated(Mediatheque(), list, {"courriels"})).text),
              HasSubstr("- Les courriels : (vide) devient « (vide) », (valeur vide)"));
}

// Review finding F8: the withdrawal named only venues/….
TEST(MessageTest, WithdrawalNamesTheVenue) {
  venues::v1::VenueWithdrawn w;
  w.set_name("venues/1");
  w.set_nom("Médiathèque Jean Lévy");
  w.set_reason("fermeture définitive");
  const Message m = Describe(Make("venue.withdrawn", w));
  EXPECT_EQ(m.subject, "Médiathèque Jean Lévy (venues/1) a été retiré du registre");
  EXPECT_THAT(Flat(m.text), HasSubstr("Médiathèque Jean Lévy (venues/1) a été retiré du registre "
                                      ": fermeture définitive"));
}

// Review finding F10: a subject cut inside a flag or between a letter and its accent.
TEST(MessageTest, SubjectsAreCutBetweenGraphemeClusters) {
  const std::string flag = "\U0001F1EB\U0001F1F7";  // 🇫🇷: two regional indicators
  const std::string e_acute = "e\u0301";            // e + combining acute accent
  for (int shift = 0; shift < 4; ++shift) {
    for (const std::string& unit : {flag, e_acute}) {
      venues::v1::VenueCreated c;
      *c.mutable_venue() = Mediatheque();
      std::string nom(static_cast<size_t>(shift), 'x');
      for (int i = 0; i < 200; ++i) nom += unit;
      c.mutable_venue()->set_nom(nom);
      const Message m = Describe(Make("venue.created", c));
      ExpectClean(m);
      const std::string subject = m.subject;
      ASSERT_THAT(subject, ::testing::EndsWith("…")) << shift;
      const std::string body = subject.substr(0, subject.size() - std::string("…").size());
      EXPECT_TRUE(absl::EndsWith(body, unit)) << "shift " << shift << ": " << subject;
      size_t indicators = 0;
      for (size_t i = 0; i + 3 < subject.size(); ++i) {
        if (subject.compare(i, 3, "\xF0\x9F\x87") == 0) ++indicators;
      }
      EXPECT_EQ(indicators % 2, 0u) << subject;
    }
  }
}

// Review finding F11: a line began with « ; » or « : ».
TEST(MessageTest, SemicolonsAndColonsStayWithTheWordBefore) {
  for (size_t n = 1; n < 70; ++n) {
    venues::v1::Venue before = Mediatheque();
    before.set_nom(std::string(n, 'n'));
    venues::v1::Venue after = before;
    after.set_adresse(std::string(n, 'a') + " ; bâtiment B : porte 2");
    const Message m = Describe(Updated(before, after, {"adresse"}));
    ExpectWrapped(m.text);
    for (const auto& piece : absl::StrSplit(m.text, '\n')) {
      const std::string line(piece);
      const size_t first = line.find_first_not_of(" -");
      if (first == std::string::npos) continue;
      EXPECT_NE(line[first], ';') << n << ": " << m.text;
      EXPECT_NE(line[first], ':') << n << ": " << m.text;
    }
  }
}

events::v1::Event Phone(const std::string& venue, const std::string& nom, int n) {
  venues::v1::Venue before = Mediatheque();
  before.set_name(venue);
  before.set_nom(nom);
  venues::v1::Venue after = before;
  after.set_telephone(absl::StrCat("+3332000000", n));
  return Updated(before, after, {"telephone"});
}

TEST(DigestTest, GroupsPerVenueInOrderThenTheOthers) {
  sync::v1::RunCompleted run;
  run.mutable_run()->set_name("sources/cd59/runs/7");
  run.mutable_run()->set_state(sync::v1::Run::SUCCEEDED);
  std::vector<events::v1::Event> events = {
      Phone("venues/a", "Maison A", 1), Make("sync.run.completed", run, "sources/cd59"),
      Phone("venues/b", "Maison B", 2), Phone("venues/a", "Maison A", 3)};
  const absl::TimeZone utc = absl::UTCTimeZone();
  const Message m = DescribeDigest(events, "Tableau de bord",
                                   absl::FromCivil(absl::CivilHour(2026, 11, 30, 7), utc),
                                   absl::FromCivil(absl::CivilHour(2026, 12, 7, 7), utc));
  ExpectClean(m);
  EXPECT_EQ(m.subject,
            "Tableau de bord : 4 changements du lundi 30 novembre 2026 au lundi 7 "
            "décembre 2026");
  const size_t a = m.text.find("Maison A (venues/a)");
  const size_t a1 = m.text.find("+33320000001", a);
  const size_t a3 = m.text.find("+33320000003", a);
  const size_t b = m.text.find("Maison B (venues/b)");
  const size_t others = m.text.find("Autres nouvelles");
  const size_t sync = m.text.find("sources/cd59/runs/7");
  ASSERT_NE(a, std::string::npos) << m.text;
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(others, std::string::npos);
  EXPECT_LT(a, a1);
  EXPECT_LT(a1, a3);
  EXPECT_LT(a3, b) << "both changes of A in A's section";
  EXPECT_LT(b, others);
  EXPECT_LT(others, sync);
  EXPECT_THAT(m.html, HasSubstr("<h3>Maison A (venues/a)</h3>"));
}

TEST(DigestTest, TenThousandEventsStayBounded) {
  std::vector<events::v1::Event> events;
  for (int i = 0; i < 10000; ++i) {
    events.push_back(Phone(absl::StrCat("venues/", i % 200), absl::StrCat("Lieu ", i % 200), i));
  }
  const absl::Time t = absl::FromUnixSeconds(1796000000);
  const Message m = DescribeDigest(events, "", t, t + absl::Hours(24 * 7));
  ExpectClean(m);
  EXPECT_LT(m.text.size(), 100 * 1024u);
  EXPECT_LT(m.html.size(), 150 * 1024u);
  // Each venue has 50 changes: 10 shown, the rest counted.
  EXPECT_THAT(Flat(m.text), HasSubstr("et 40 autres changements"));
  EXPECT_THAT(Flat(m.text), HasSubstr("En tout, 9900 changements ne sont pas détaillés ici."));
  EXPECT_THAT(m.subject, HasSubstr("Passerelle : 10000 changements"));
}

TEST(DigestTest, DatesAreParisDatesAcrossTheDaylightSavingChange) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  // 2026-10-25 is 25 hours long in Paris: it starts at 22:00 UTC the day before (CEST, +2) and
  // ends at 23:00 UTC (CET, +1).
  const absl::Time start = absl::FromCivil(absl::CivilMinute(2026, 10, 24, 22, 0), utc);
  const absl::Time end = absl::FromCivil(absl::CivilMinute(2026, 10, 25, 23, 0), utc);
  EXPECT_THAT(DescribeDigest({}, "", start, end).subject,
              HasSubstr("aucun changement le dimanche 25 octobre 2026"));
  // 30 minutes later each side: the 25th to the 26th (with a fixed +1 offset the start would
  // be the 24th).
  EXPECT_THAT(DescribeDigest({}, "", start + absl::Minutes(30), end + absl::Minutes(30)).subject,
              HasSubstr("du dimanche 25 octobre 2026 au lundi 26 octobre 2026"));
  // The first of the month is « 1er ».
  EXPECT_THAT(DescribeDigest({}, "", absl::FromCivil(absl::CivilHour(2026, 12, 1, 8), utc),
                             absl::FromCivil(absl::CivilHour(2026, 12, 1, 9), utc))
                  .text,
              HasSubstr("Aucun changement le mardi 1er décembre 2026."));
}

TEST(DigestTest, HostileTitleIsOneCleanLine) {
  const std::string title = "Abonnement\r\nBcc: x@y\0 <b>"s + std::string(500, 'x');
  const absl::Time t = absl::FromUnixSeconds(1796000000);
  const Message m =
      DescribeDigest({Phone("venues/a", "<i>A</i>", 1)}, title, t, t + absl::Hours(1));
  ExpectClean(m);
  EXPECT_THAT(m.subject, HasSubstr("Abonnement Bcc: x@y <b>"));
  EXPECT_THAT(m.html, Not(HasSubstr("<b>")));
  EXPECT_THAT(m.html, Not(HasSubstr("<i>")));
  EXPECT_THAT(m.html, HasSubstr("&lt;i&gt;A&lt;/i&gt;"));
}

TEST(MessageTest, TheContactLearnsWhatFailedAndHowToTurnItBackOn) {
  v1::Subscription sub;
  sub.set_name("subscriptions/0b6f5e1c-2d3a-4e5f-8a9b-0c1d2e3f4a5b");
  sub.set_organisation("organisations/centre-social-epeule");
  // Hostile values: markup, a control character, a huge URL (invalid UTF-8 cannot be parsed
  // from a proto3 string: such a payload gives the generic sentence, tested above).
  sub.set_display_name("Lieux <b>de</b> l'\x01Épeule");
  sub.mutable_webhook()->set_url("https://hooks.example/services/T0/SECRET?token=" +
                                 std::string(5000, 'a'));
  sub.set_disabled_reason("20 échecs consécutifs ; le dernier : réponse HTTP 500");
  const Message m = Describe(Make("notification.disabled", sub, sub.name()));
  ExpectClean(m);
  EXPECT_THAT(m.subject, HasSubstr("désactivé"));
  const std::string text = Flat(m.text);
  EXPECT_THAT(text, HasSubstr("Passerelle a désactivé l'abonnement « Lieux <b>de</b>"));
  EXPECT_THAT(text, HasSubstr("de organisations/centre-social-epeule"));
  EXPECT_THAT(text, HasSubstr("Motif : 20 échecs consécutifs ; le dernier : réponse HTTP 500."));
  EXPECT_THAT(text, HasSubstr("Rien n'est perdu"));
  EXPECT_THAT(text, HasSubstr("PATCH /v1/subscriptions/0b6f5e1c"));
  EXPECT_THAT(text, HasSubstr("https://hooks.example/…"));
  EXPECT_THAT(text + m.html, Not(HasSubstr("SECRET"))) << "a hook URL's path may be its secret";
  EXPECT_THAT(text + m.html, Not(HasSubstr("token")));
  EXPECT_THAT(m.html, Not(HasSubstr("<b>de</b>")));
  EXPECT_THAT(m.html, HasSubstr("&lt;b&gt;de&lt;/b&gt;"));
}

TEST(MessageTest, TheFooterSaysWhyAndLinksToUnsubscribeOnlyWhenThereIsALink) {
  Message m{.subject = "Sujet <x>", .text = "Texte.\n", .html = "<p>Texte.</p>"};
  const Message with = WithFooter(m, "Parce que « <vous> »", "https://api.example/d?token=a&b");
  EXPECT_THAT(with.text, HasSubstr("Texte.\n\n\n-- \nParce que « <vous> »\nPour ne plus le "
                                   "recevoir : https://api.example/d?token=a&b\n"));
  EXPECT_THAT(with.html, HasSubstr("<html lang=\"fr\">"));
  EXPECT_THAT(with.html, HasSubstr("<title>Sujet &lt;x&gt;</title>"));
  EXPECT_THAT(with.html, HasSubstr("Parce que « &lt;vous&gt; »"));
  EXPECT_THAT(with.html, HasSubstr("href=\"https://api.example/d?token=a&amp;b\""));
  const Message without = WithFooter(m, "Contact", "");
  EXPECT_THAT(without.text, Not(HasSubstr("Pour ne plus")));
  EXPECT_THAT(without.html, Not(HasSubstr("<a ")));
}

}  // namespace
}  // namespace passerelle::notifications
