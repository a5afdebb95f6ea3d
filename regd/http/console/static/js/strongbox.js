// Strongbox: vaults and their secrets (keys listed, values hidden until revealed).
import { del, get, post } from "./api.js";
import { announce, confirmDialog, field, fill, h, table, when } from "./dom.js";
import { act, apiForm } from "./forms.js";

const VAULTS = "/api/v1/strongbox/vaults";

/** @type {import("./main.js").Page} */
export async function strongbox(main, session, vault) {
  const vaults = await get(VAULTS);
  const reload = () => strongbox(main, session, vault);
  const rows = vaults.map((/** @type {any} */ v) => h("tr", null,
    h("th", { scope: "row" }, h("a", { href: `#/strongbox/${encodeURIComponent(v.name)}`, "aria-current": v.name === vault ? "true" : null }, v.name)),
    h("td", null, String(v["secret-count"])),
    h("td", null, when(v["created-at"]))));
  const newVault = apiForm({
    label: "Create vault",
    submit: "Create vault",
    fields: [field("New vault", { name: "name", required: true, "data-about": "vault name" })],
    send: async (values) => {
      await post(VAULTS, { name: values.name });
      announce(`Created vault ${values.name}`);
      location.hash = `#/strongbox/${encodeURIComponent(values.name)}`;
    },
  });
  fill(main, h("h1", null, "Strongbox"),
    h("section", { "aria-labelledby": "vaults-h" }, h("h2", { id: "vaults-h" }, "Vaults"),
      vaults.length ? table("Vaults", ["Vault", "Secrets", "Created"], rows) : h("p", null, "No vaults."),
      newVault),
    vault ? await secretsSection(vault, reload) : null);
}

/** @param {string} vault @param {() => Promise<void>} reload */
async function secretsSection(vault, reload) {
  const base = `${VAULTS}/${encodeURIComponent(vault)}`;
  const secrets = await get(`${base}/secrets`);
  const rows = secrets.map((/** @type {any} */ s) => {
    const valueCell = h("td", null, "hidden");
    const reveal = h("button", { type: "button", "aria-label": `Reveal the values of ${s.name}` }, "Reveal");
    reveal.addEventListener("click", () => act(reveal, async () => {
      const full = await get(`${base}/secrets/${encodeURIComponent(s.name)}`);
      if (!full.data) { fill(valueCell, "you may not read the values (strongbox-read)"); return; }
      fill(valueCell, h("dl", null, Object.entries(full.data).map(([k, v]) => [h("dt", null, k), h("dd", null, h("code", null, String(v)))])));
    }));
    const remove = h("button", { type: "button", class: "danger", "aria-label": `Delete secret ${s.name}` }, "Delete");
    remove.addEventListener("click", () => act(remove, async () => {
      if (!await confirmDialog("Delete secret", `Delete the secret ${s.name} of ${vault}?`, "Delete")) return;
      await del(`${base}/secrets/${encodeURIComponent(s.name)}`);
      await reload();
    }));
    return h("tr", null, h("th", { scope: "row" }, s.name), h("td", null, s.keys.join(", ")), valueCell,
      h("td", null, when(s["updated-at"])), h("td", null, reveal, " ", remove));
  });
  const kind = field("Kind", { tag: "select", name: "kind", options: [["login", "user name and password"], ["token", "token"]] });
  const username = field("User name", { name: "username", autocomplete: "off", "data-about": "username" });
  const password = field("Password", { name: "password", type: "password", autocomplete: "new-password", "data-about": "password" });
  const token = field("Token", { name: "token", type: "password", autocomplete: "off", "data-about": "token" });
  token.hidden = true;
  kind.querySelector("select")?.addEventListener("change", (event) => {
    const isToken = /** @type {HTMLSelectElement} */ (event.target).value === "token";
    username.hidden = password.hidden = isToken;
    token.hidden = !isToken;
  });
  const newSecret = apiForm({
    label: "Create secret",
    submit: "Create secret",
    fields: [field("Secret name", { name: "name", required: true, "data-about": "secret name" }), kind, username, password, token],
    send: async (values) => {
      const data = values.kind === "token"
        ? { token: values.token }
        : { username: values.username, password: values.password };
      await post(`${base}/secrets`, { name: values.name, data });
      announce(`Created secret ${values.name}`);
      await reload();
    },
  });
  const dropVault = h("button", { type: "button", class: "danger" }, `Delete vault ${vault}`);
  dropVault.addEventListener("click", () => act(dropVault, async () => {
    if (!await confirmDialog("Delete vault", `Delete the vault ${vault} and its secrets?`, "Delete vault")) return;
    await del(base);
    location.hash = "#/strongbox";
  }));
  return h("section", { "aria-labelledby": "secrets-h" },
    h("h2", { id: "secrets-h" }, `Secrets of ${vault}`),
    secrets.length ? table(`Secrets of ${vault}`, ["Secret", "Keys", "Values", "Updated", ""], rows) : h("p", null, "No secrets."),
    h("h3", null, "New secret"), newSecret, dropVault);
}
