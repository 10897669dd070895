// The unsubscribe page: static HTML, its script reading the token from the address.
#include "services/gateway/unsubscribe_page.hpp"

namespace passerelle::gateway {
namespace {

constexpr char kPage[] = R"html(<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Se désabonner — Passerelle</title>
<style>
body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1b1b1b}
button{font-size:1.1rem;padding:.6rem 1.2rem;border-radius:.3rem;border:1px solid #000091;background:#000091;color:#fff;cursor:pointer}
button[disabled]{opacity:.5;cursor:default}
#reponse{margin-top:1.5rem;font-weight:600}
</style>
</head>
<body>
<h1>Se désabonner</h1>
<p>Vous ne recevrez plus les messages de cet abonnement Passerelle, le registre de la médiation numérique de
Roubaix. Les autres abonnements de votre structure ne changent pas.</p>
<button id="bouton" type="button">Ne plus recevoir ces messages</button>
<p id="reponse" role="status" aria-live="polite"></p>
<noscript><p>Cette page a besoin de JavaScript. Vous pouvez aussi utiliser le bouton « Se désabonner » de
votre messagerie.</p></noscript>
<script>
(function () {
  var token = new URLSearchParams(window.location.search).get("token") || "";
  var bouton = document.getElementById("bouton");
  var reponse = document.getElementById("reponse");
  if (!/^[0-9a-f]{64}$/.test(token)) {
    bouton.disabled = true;
    reponse.textContent = "Ce lien est incomplet : ouvrez l'adresse entière donnée au bas du courriel.";
    return;
  }
  bouton.addEventListener("click", function () {
    bouton.disabled = true;
    fetch("/v1/subscriptions:unsubscribe?token=" + encodeURIComponent(token), {
      method: "POST",
      headers: {"Content-Type": "application/x-www-form-urlencoded"},
      body: "List-Unsubscribe=One-Click",
      credentials: "omit",
      referrerPolicy: "no-referrer"
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (r.ok) {
          reponse.textContent = j.message || "C'est fait.";
        } else {
          reponse.textContent = (j.error && j.error.message) ||
              ("Le désabonnement n'a pas abouti (erreur " + r.status + ").");
          bouton.disabled = false;
        }
      });
    }).catch(function () {
      reponse.textContent = "Le serveur n'a pas répondu : réessayez dans un moment.";
      bouton.disabled = false;
    });
  });
})();
</script>
</body>
</html>
)html";

}  // namespace

std::vector<std::string> UnsubscribePage::Allowed(std::string_view path) const {
  if (path == kPath) return {"GET", "HEAD"};
  return {};
}

void UnsubscribePage::Serve(const std::shared_ptr<http::Exchange>& exchange, PageRequest request) {
  http::Response r;
  r.headers = std::move(request.headers);
  r.headers.push_back({"content-type", "text/html; charset=utf-8"});
  r.headers.push_back({"cache-control", "no-store"});
  // The token is in the address: never sent on as a Referer.
  r.headers.push_back({"referrer-policy", "no-referrer"});
  r.headers.push_back({"x-content-type-options", "nosniff"});
  r.headers.push_back(
      {"content-security-policy",
       "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"});
  if (exchange->request().method != "HEAD") r.body = kPage;
  exchange->Respond(std::move(r));
}

}  // namespace passerelle::gateway
