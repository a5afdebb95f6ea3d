// Remote registries (the pull-through cache's upstreams), its settings and size.
import { del, get, patch, post } from "./api.js";
import { announce, confirmDialog, field, fill, h, size, table, when } from "./dom.js";
import { InputError, act, apiForm } from "./forms.js";

const REMOTES = "/api/v1/image-registry/remote-registries";
const SETTINGS = "/api/v1/image-registry/settings";

/** js-yaml, loaded the first time a YAML box is used. @returns {Promise<any>} */
function yamlParser() {
  const loaded = /** @type {any} */ (globalThis).jsyaml;
  if (loaded) return Promise.resolve(loaded);
  return new Promise((resolve, reject) => {
    const script = h("script", { src: "/ui/vendor/js-yaml.min.js" });
    script.addEventListener("load", () => resolve(/** @type {any} */ (globalThis).jsyaml));
    script.addEventListener("error", () => reject(new Error("cannot load the YAML parser")));
    document.head.append(script);
  });
}

/** The body in a paste box: JSON or YAML, as `regctl ... create` reads it. @param {string} text */
async function parseBody(text) {
  if (!text.trim()) throw new InputError("'yaml': paste the remote registry as YAML or JSON");
  if ("{[".includes(text.trimStart()[0])) {
    try { return JSON.parse(text); } catch (error) { throw new InputError(`'yaml': cannot parse the JSON: ${/** @type {Error} */ (error).message}`); }
  }
  const yaml = await yamlParser();
  try {
    return yaml.load(text, { schema: yaml.JSON_SCHEMA });
  } catch (error) {
    throw new InputError(`'yaml': cannot parse the YAML: ${/** @type {Error} */ (error).message.split("\n")[0]}`);
  }
}

/** @param {any} remote */
const credentialText = (remote) => (remote.credentials || [])
  .map((/** @type {any} */ c) => `${c.repository || "*"} → ${c.vault}/${c.secret}`).join("; ") || "–";

/** @type {import("./main.js").Page} */
export async function remotes(main, session) {
  if (!session.admin) {  // remote registries, settings and the cache are admin-only reads
    fill(main, h("h1", null, "Remote registries"),
      h("p", null, "Only registry admins see and manage remote registries and the pull-through cache."));
    return;
  }
  const [found, settings, cache] = await Promise.all([
    get(REMOTES), get(SETTINGS), get("/api/v1/image-registry/cache"),
  ]);
  const reload = () => remotes(main, session);
  const rows = found.map((/** @type {any} */ r) => h("tr", null,
    h("th", { scope: "row" }, r.address),
    h("td", null, h("code", null, r.name)),
    h("td", null, r["override-address"] || "–"),
    h("td", null, credentialText(r)),
    h("td", null, when(r["created-at"])),
    h("td", null, (() => {
      const remove = h("button", { type: "button", class: "danger", "aria-label": `Remove ${r.address}` }, "Remove");
      remove.addEventListener("click", () => act(remove, async () => {
        if (!await confirmDialog("Remove remote registry", `Remove ${r.address}? Its cached content stays.`, "Remove")) return;
        await del(`${REMOTES}/${encodeURIComponent(r.address)}`);
        await reload();
      }));
      return remove;
    })())));
  const connect = apiForm({
    label: "Connect a registry",
    className: "stacked",
    submit: "Connect registry",
    fields: [
      field("Address", { name: "address", placeholder: "registry.example.com:5000", required: true, "data-about": "address" }),
      field("Name (prefix in repository names)", { name: "name", placeholder: "default: the address with ':' as '-'", "data-about": "alias prefix" }),
      field("Override address", { name: "override-address", placeholder: "https://mirror.example.com", "data-about": "override" }),
      field("Credentials: vault", { name: "vault", "data-about": "vault" }),
      field("Credentials: secret", { name: "secret", "data-about": "secret credentials" }),
      field("Credentials: for repositories", { name: "repository", placeholder: "*", "data-about": "repository" }),
    ],
    send: async (values) => {
      /** @type {Record<string, any>} */
      const body = { address: values.address };
      if (values.name) body.name = values.name;
      if (values["override-address"]) body["override-address"] = values["override-address"];
      if (values.vault || values.secret) {
        body.credentials = [{ repository: values.repository || "*", vault: values.vault, secret: values.secret }];
      }
      await post(REMOTES, body);
      announce(`Connected ${values.address}`);
      await reload();
    },
  });
  const pasted = apiForm({
    label: "Connect a registry from YAML",
    className: "stacked",
    submit: "Connect from YAML",
    fields: [field("Remote registry (YAML or JSON, as regctl create image-registry remote-registries takes)",
      { tag: "textarea", name: "yaml", rows: "8", spellcheck: "false",
        placeholder: "address: registry.example.com\ncredentials:\n  - repository: \"*\"\n    vault: upstream\n    secret: login",
        "data-about": "yaml body" })],
    send: async (values) => {
      const body = await parseBody(values.yaml);
      const made = await post(REMOTES, body);
      announce(`Connected ${made.address}`);
      await reload();
    },
  });
  const change = apiForm({
    label: "Settings",
    className: "stacked",
    submit: "Save settings",
    fields: [
      field("Default remote registry", { name: "default-remote-registry", value: settings["default-remote-registry"] || "", "data-about": "default" }),
      field("Tag TTL (seconds)", { name: "tag-ttl", inputmode: "numeric", value: String(settings["tag-ttl"] ?? ""), "data-about": "ttl" }),
      field("Cache size cap (bytes, empty: none)", { name: "cache-size-cap", inputmode: "numeric", value: settings["cache-size-cap"] ?? "", "data-about": "cap" }),
    ],
    send: async (values) => {
      const number = (/** @type {string} */ text) => (text.trim() === "" ? null : /^\d+$/.test(text.trim()) ? Number(text) : text);
      await patch(SETTINGS, {
        "default-remote-registry": values["default-remote-registry"] || null,
        "tag-ttl": number(values["tag-ttl"]),
        "cache-size-cap": number(values["cache-size-cap"]),
      });
      announce("Settings saved");
      await reload();
    },
  });
  fill(main, h("h1", null, "Remote registries"),
    found.length ? table("Remote registries", ["Address", "Name", "Override", "Credentials", "Created", ""], rows) : h("p", null, "No remote registries."),
    h("div", { class: "columns" },
      h("section", { "aria-labelledby": "connect-h" }, h("h2", { id: "connect-h" }, "Connect new registry"), connect),
      h("section", { "aria-labelledby": "paste-h" }, h("h2", { id: "paste-h" }, "Paste YAML"), pasted)),
    h("section", { "aria-labelledby": "settings-h" }, h("h2", { id: "settings-h" }, "Settings"),
      h("p", { id: "cache-size" }, `Cache: ${size(cache.size)} in ${cache.blobs} blobs${cache.cap ? ` of a ${size(cache.cap)} cap` : " (no cap)"}`),
      change));
}
