// /docs: an OpenAPI document (public, /openapi/<face>.json) as a page, rendered as text.
import { h, replace, json } from "./dom.js";

const main = document.getElementById("main");
const ROOT = new URL("./", document.baseURI.split("#")[0]);

function ref(schema, document) {
  if (schema && schema.$ref) {
    const name = schema.$ref.split("/").pop();
    return [name, document.components?.schemas?.[name] || {}];
  }
  return [null, schema || {}];
}

function typeOf(schema, document) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.anyOf || schema.oneOf) return (schema.anyOf || schema.oneOf).map((s) => typeOf(s, document)).join(" | ");
  if (schema.type === "array") return `${typeOf(schema.items, document)}[]`;
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  return schema.type || "any";
}

function fields(schema, document) {
  const [, body] = ref(schema, document);
  const properties = Object.entries(body.properties || {});
  if (!properties.length) return h("pre", {}, json(schema));
  const required = new Set(body.required || []);
  return h("div", { class: "scroll" }, h("table", {},
    h("thead", {}, h("tr", {}, ["Field", "Type", "Description"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, properties.map(([name, property]) => h("tr", {},
      h("td", {}, h("code", {}, name), required.has(name) ? " (required)" : ""),
      h("td", {}, typeOf(property, document)),
      h("td", {}, property.description || ""))))));
}

function operation(path, method, op, document) {
  const parameters = op.parameters || [];
  const body = op.requestBody?.content?.["application/json"]?.schema;
  return h("details", { class: "docs-op", id: `${method}-${path}` },
    h("summary", {}, h("span", { class: "method" }, method.toUpperCase()), " ", h("code", {}, path), " ", op.summary || ""),
    op.description ? h("p", {}, op.description) : null,
    parameters.length ? [h("h3", {}, "Parameters"), h("ul", {}, parameters.map((p) => h("li", {}, h("code", {}, p.name), ` (${p.in}${p.required ? ", required" : ""}) ${typeOf(p.schema, document)} ${p.description || ""}`)))] : null,
    body ? [h("h3", {}, `Body: ${typeOf(body, document)}`), fields(body, document)] : null,
    h("h3", {}, "Responses"),
    h("ul", {}, Object.entries(op.responses || {}).map(([status, response]) => {
      const schema = response.content?.["application/json"]?.schema;
      return h("li", {}, h("strong", {}, status), ` ${response.description || ""}`, schema ? [" → ", h("code", {}, typeOf(schema, document))] : null);
    })));
}

async function show(face) {
  const response = await fetch(new URL(`openapi/${encodeURIComponent(face)}.json`, ROOT));
  if (!response.ok) {
    replace(main, h("h1", {}, "API reference"), h("p", { class: "error" }, `No document for ${face} (HTTP ${response.status}).`));
    return;
  }
  const document = await response.json();
  const index = await fetch(new URL("openapi", ROOT)).then((r) => (r.ok ? r.json() : { faces: {} }));
  const picker = h("p", {}, "Faces: ", Object.keys(index.faces || {}).map((name) => [h("a", { href: `#${name}`, "aria-current": name === face ? "page" : null }, name), " "]));
  const sections = Object.entries(document.paths || {}).map(([path, methods]) =>
    Object.entries(methods).filter(([method]) => ["get", "post", "put", "patch", "delete"].includes(method)).map(([method, op]) => operation(path, method, op, document)));
  window.document.title = `${document.info?.title || "API"} · beatless`;
  replace(main,
    h("h1", {}, document.info?.title || "API reference", " ", h("small", {}, document.info?.version || "")),
    picker,
    document.info?.description ? h("p", {}, document.info.description) : null,
    h("p", {}, "Every operation but the status route needs an API key: ", h("code", {}, "Authorization: Bearer <key>"), ". The raw document: ", h("a", { href: new URL(`openapi/${face}.json`, ROOT).href }, `openapi/${face}.json`), "."),
    sections);
}

const face = () => decodeURIComponent(location.hash.slice(1)) || "native";
window.addEventListener("hashchange", () => show(face()));
show(face());
