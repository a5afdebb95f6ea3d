// API clients, personal access tokens, users and role bindings.
import { del, get, post } from "./api.js";
import { announce, confirmDialog, field, fill, h, secretDialog, table, when } from "./dom.js";
import { act, apiForm } from "./forms.js";
import { credentialFormats } from "./credentials.js";

/**
 * A Delete/Revoke button with its confirmation.
 * @param {string} label @param {string} question @param {() => Promise<void>} action
 */
function dangerButton(label, accessible, question, action) {
  const button = h("button", { type: "button", class: "danger", "aria-label": accessible }, label);
  button.addEventListener("click", () => act(button, async () => {
    if (await confirmDialog(label, question, label)) await action();
  }));
  return button;
}

/** @param {any[]} grants */
const grantText = (grants) => grants.map((g) => `${g.capabilities.join(",")} on ${g.repositories.join(" ")}`).join("; ") || "–";

/** @type {import("./main.js").Page} */
export async function apiClients(main, session) {
  const clients = await get("/api/v1/api-clients");
  const reload = () => apiClients(main, session);
  const rows = clients.map((/** @type {any} */ c) => h("tr", null,
    h("th", { scope: "row" }, c.id),
    h("td", null, c.description || "–"),
    h("td", null, grantText(c.grants)),
    h("td", null, c.owner || "–"),
    h("td", null, when(c["expires-at"])),
    h("td", null, dangerButton("Delete", `Delete API client ${c.id}`, `Delete the API client ${c.id}? Whatever uses its secret stops working.`, async () => {
      await del(`/api/v1/api-clients/${c.id}`);
      announce(`Deleted ${c.id}`);
      await reload();
    }))));
  const create = apiForm({
    label: "Create API client",
    submit: "Create API client",
    fields: [
      field("Description", { name: "description", placeholder: "CI for team/app" }),
      field("Pull from (repository or glob)", { name: "repositories", placeholder: "team/app or team/*", required: true, "data-about": "grant repositories glob" }),
      field("Expires after", { name: "ttl", placeholder: "30d (empty: never)", "data-about": "ttl" }),
    ],
    send: async (values) => {
      const body = {
        description: values.description,
        grants: [{ capabilities: ["pull"], repositories: values.repositories.split(/[\s,]+/).filter(Boolean) }],
        ...(values.ttl ? { ttl: values.ttl } : {}),
      };
      const made = await post("/api/v1/api-clients", body);
      await secretDialog(`New API client ${made.id}`, "This secret is shown once. Copy it now.",
        credentialFormats(location.host, made.id, made.secret, made.id));
      await reload();
    },
  });
  fill(main, h("h1", null, "API clients"),
    h("p", null, "Robots that pull (and push, when granted) with an id and a secret."),
    clients.length ? table("API clients", ["Id", "Description", "Grants", "Owner", "Expires", ""], rows) : h("p", null, "No API clients."),
    h("h2", null, "New pull-only API client"), create);
}

/** @type {import("./main.js").Page} */
export async function tokens(main, session) {
  const found = await get("/api/v1/tokens");
  const reload = () => tokens(main, session);
  const rows = found.map((/** @type {any} */ t) => h("tr", { "data-token": t.id },
    h("th", { scope: "row" }, t.name || "–"),
    h("td", null, h("code", null, t.id)),
    h("td", null, when(t["created-at"])),
    h("td", null, when(t["expires-at"])),
    h("td", null, t["revoked-at"] ? `revoked ${when(t["revoked-at"])}` : "active"),
    h("td", null, t["revoked-at"] ? null : dangerButton("Revoke", `Revoke token ${t.name || t.id}`,
      `Revoke the token ${t.name || t.id}? ${t.name === "web console" ? "If it is this session's, you are signed out." : ""}`, async () => {
        await del(`/api/v1/tokens/${t.id}`);
        announce("Token revoked");
        await reload();
      }))));
  const create = apiForm({
    label: "Create token",
    submit: "Create token",
    fields: [
      field("Name", { name: "name", placeholder: "laptop", "data-about": "name" }),
      field("Expires after", { name: "ttl", placeholder: "30d", required: true, "data-about": "ttl duration" }, "A duration like 4h, 30d or 1y"),
    ],
    send: async (values) => {
      const made = await post("/api/v1/tokens", { name: values.name, ttl: values.ttl || null });
      await secretDialog(`New token ${made.name || made.id}`,
        "This token is shown once. Use it as a password (docker login -u anything) or as a Bearer token.",
        [["token", made.token]]);
      await reload();
    },
  });
  fill(main, h("h1", null, "Personal access tokens"),
    found.length ? table("Tokens", ["Name", "Id", "Created", "Expires", "State", ""], rows) : h("p", null, "No tokens."),
    h("h2", null, "New token"), create);
}

/** @type {import("./main.js").Page} */
export async function users(main, session) {
  const [people, roles, bindings] = await Promise.all([
    get("/api/v1/users"), get("/api/v1/roles"), get("/api/v1/role-bindings"),
  ]);
  const reload = () => users(main, session);
  const userRows = people.map((/** @type {any} */ u) => h("tr", null,
    h("th", { scope: "row" }, u.name),
    h("td", null, u.admin ? "yes" : "no"),
    h("td", null, u.policies.join(", ") || "–"),
    h("td", null, when(u["created-at"])),
    h("td", null, u.name === session.user ? null : dangerButton("Delete", `Delete user ${u.name}`, `Delete the user ${u.name}?`, async () => {
      await del(`/api/v1/users/${encodeURIComponent(u.name)}`);
      await reload();
    }))));
  const bindingRows = bindings.map((/** @type {any} */ b) => h("tr", null,
    h("th", { scope: "row" }, b.principal),
    h("td", null, b.role),
    h("td", null, b.namespace),
    h("td", null, dangerButton("Remove", `Remove ${b.role} of ${b.principal} on ${b.namespace}`, `Remove ${b.role} of ${b.principal} on ${b.namespace}?`, async () => {
      await del(`/api/v1/role-bindings/${b.role}/${encodeURIComponent(b.principal)}/${b.namespace}`);
      await reload();
    }))));
  const newUser = apiForm({
    label: "Create user",
    submit: "Create user",
    fields: [
      field("Name", { name: "name", autocomplete: "off", required: true, "data-about": "user name" }),
      field("Password", { name: "password", type: "password", autocomplete: "new-password", required: true, "data-about": "password" }),
      h("div", { class: "field check" }, h("input", { type: "checkbox", name: "admin", id: "new-user-admin", value: "yes" }),
        h("label", { for: "new-user-admin" }, " Registry admin")),
    ],
    send: async (values) => {
      await post("/api/v1/users", { name: values.name, password: values.password, admin: values.admin === "yes" });
      announce(`Created ${values.name}`);
      await reload();
    },
  });
  const roleNames = roles.map((/** @type {any} */ r) => r.name || r.role || String(r));
  const bind = apiForm({
    label: "Bind a role",
    submit: "Bind role",
    fields: [
      field("Principal", { name: "principal", placeholder: "user:alice or api-client:cli-ab12c", required: true, "data-about": "principal" }),
      field("Role", { tag: "select", name: "role", options: roleNames.map((/** @type {string} */ r) => [r, r]), "data-about": "role" }),
      field("Namespace", { name: "namespace", placeholder: "team", required: true, "data-about": "namespace" }),
    ],
    send: async (values) => {
      await post("/api/v1/role-bindings", values);
      announce("Role bound");
      await reload();
    },
  });
  fill(main, h("h1", null, "Users and role bindings"),
    h("section", { "aria-labelledby": "users-h" }, h("h2", { id: "users-h" }, "Users"),
      table("Users", ["Name", "Admin", "Policies", "Created", ""], userRows), newUser),
    h("section", { "aria-labelledby": "bindings-h" }, h("h2", { id: "bindings-h" }, "Role bindings"),
      bindingRows.length ? table("Role bindings", ["Principal", "Role", "Namespace", ""], bindingRows) : h("p", null, "No role bindings."),
      bind));
}
