// The public API's reference, read from the gateway's own OpenAPI document (/v1/openapi.json):
// every operation by tag, with its scope, parameters, body and answers. Text only (no HTML from
// the document is ever interpreted).

import { h } from "./dom.js";

// A schema in a few words: "Venue", "string", "array de Venue".
function typeOf(schema, doc) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.type === "array") return `liste de ${typeOf(schema.items, doc)}`;
  if (schema.enum) return `${schema.type || "string"} (${schema.enum.length} valeurs)`;
  return [schema.type, schema.format].filter(Boolean).join(", ");
}

// The document's descriptions are plain text with blank lines between paragraphs.
function paragraphs(text) {
  return String(text || "").split(/\n\s*\n/).filter((p) => p.trim()).map((p) => h("p", null, p.trim()));
}

function operation(method, path, op, doc) {
  const id = `op-${op.operationId || `${method}-${path}`}`.replace(/[^A-Za-z0-9_-]/g, "-");
  const params = (op.parameters || []).map((p) => (p.$ref ? doc.components.parameters[p.$ref.split("/").pop()] : p));
  const body = op.requestBody && op.requestBody.content;
  const section = h("section", { class: "operation", id, "aria-labelledby": `${id}-titre` },
    h("h3", { id: `${id}-titre` }, h("code", { class: "methode" }, method.toUpperCase()), " ", h("code", null, path)),
    op.summary ? h("p", null, op.summary) : null,
    h("p", { class: "aide" }, `Portée : ${op["x-passerelle-scope"] || "—"}`,
      op["x-passerelle-rpc"] ? [" · gRPC : ", h("code", null, op["x-passerelle-rpc"])] : null),
    ...paragraphs(op.description && op.description !== op.summary ? op.description : ""));
  if (params.length) {
    const rows = params.map((p) => h("tr", null,
      h("th", { scope: "row" }, h("code", null, p.name)),
      h("td", null, p.in === "path" ? "chemin" : p.in === "query" ? "requête" : p.in === "header" ? "en-tête" : p.in),
      h("td", null, p.required ? "oui" : "non"),
      h("td", null, typeOf(p.schema, doc)),
      h("td", null, p.description || "")));
    section.append(h("table", { class: "parametres" },
      h("caption", null, "Paramètres"),
      h("thead", null, h("tr", null, ...["Nom", "Où", "Requis", "Type", "Description"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", null, rows)));
  }
  if (body) {
    section.append(h("p", null, "Corps : ", Object.entries(body).map(([media, c], i) =>
      [i ? ", " : "", h("code", null, media), " ", typeOf(c.schema, doc)])));
  }
  const answers = Object.entries(op.responses || {});
  if (answers.length) {
    section.append(h("ul", { class: "reponses", "aria-label": "Réponses" },
      answers.map(([code, r]) => h("li", null, h("code", null, code), " ", r.description || ""))));
  }
  return section;
}

async function afficher() {
  const etat = document.getElementById("api-etat");
  const ici = document.getElementById("api-reference");
  let doc;
  try {
    const r = await fetch("/v1/openapi.json", { headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    doc = await r.json();
  } catch (e) {
    etat.textContent = `La description de l'API ne peut pas être lue pour le moment (${e.message}). Réessayez plus tard.`;
    return;
  }
  const parTag = new Map((doc.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
  let total = 0;
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const tag = (op.tags && op.tags[0]) || "Autres";
      if (!parTag.has(tag)) parTag.set(tag, { tag: { name: tag }, ops: [] });
      parTag.get(tag).ops.push(operation(method, path, op, doc));
      total += 1;
    }
  }
  const sommaire = h("nav", { "aria-label": "Sommaire de l'API", class: "sommaire" }, h("h2", null, "Sommaire"),
    h("ul", null, [...parTag.values()].filter((g) => g.ops.length).map((g) =>
      h("li", null, h("a", { href: `#tag-${g.tag.name}` }, g.tag.name), ` (${g.ops.length})`))));
  const info = doc.info || {};
  ici.replaceChildren(
    h("p", null, `${info.title || "API"} ${info.version ? `— version ${info.version}` : ""}`),
    ...paragraphs(info.description),
    sommaire,
    ...[...parTag.values()].filter((g) => g.ops.length).map((g) =>
      h("section", { id: `tag-${g.tag.name}`, "aria-labelledby": `tag-${g.tag.name}-titre`, class: "groupe" },
        h("h2", { id: `tag-${g.tag.name}-titre` }, g.tag.name),
        ...paragraphs(g.tag.description),
        ...g.ops)));
  etat.textContent = `${total} opérations.`;
  document.getElementById("api-etat").dataset.operations = String(total);
}

afficher();
