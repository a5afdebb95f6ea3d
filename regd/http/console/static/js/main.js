// The console's shell: who is signed in, the sign-in form, and the hash router.
import { ApiError, request, setCsrf } from "./api.js";
import { announce, fill, field, h } from "./dom.js";
import { apiForm } from "./forms.js";

/** @typedef {{user: string, admin: boolean}} Session */
/** @typedef {(main: HTMLElement, session: Session, param: string) => Promise<void>} Page */

/** @type {Record<string, () => Promise<Record<string, Page>>>} */
const PAGES = {
  repositories: () => import("./repositories.js"),
  repository: () => import("./repositories.js"),
  "api-clients": () => import("./identities.js"),
  tokens: () => import("./identities.js"),
  users: () => import("./identities.js"),
  strongbox: () => import("./strongbox.js"),
  remotes: () => import("./remotes.js"),
};
const TITLES = {
  repositories: "Repositories", repository: "Repository", "api-clients": "API clients",
  tokens: "Personal access tokens", users: "Users and role bindings", strongbox: "Strongbox",
  remotes: "Remote registries",
};

/** @type {Session | null} */
let session = null;
const main = /** @type {HTMLElement} */ (document.getElementById("main"));

async function loadSession() {
  const found = await request("GET", "/ui/session");
  session = found.user ? { user: found.user, admin: found.admin } : null;
  setCsrf(found.user ? found["csrf-token"] : "");
  const nav = /** @type {HTMLElement} */ (document.getElementById("nav"));
  const who = /** @type {HTMLElement} */ (document.getElementById("who"));
  nav.hidden = who.hidden = !session;
  if (session) {
    fill(/** @type {HTMLElement} */ (document.getElementById("who-name")), `Signed in as ${session.user}`);
    for (const link of nav.querySelectorAll("[data-admin]")) {
      /** @type {HTMLElement} */ (link.parentElement).hidden = !session.admin;
    }
  }
}

function signInPage() {
  document.title = "Sign in · regd console";
  const form = apiForm({
    label: "Sign in",
    className: "stacked",
    submit: "Sign in",
    fields: [
      field("User name", { name: "username", autocomplete: "username", required: true, "data-about": "user" }),
      field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    ],
    send: async (values) => {
      await request("POST", "/ui/session", { username: values.username, password: values.password });
      await loadSession();
      if (!location.hash || location.hash === "#/" || location.hash === "#/sign-in") {
        location.hash = "#/repositories";
      } else {
        await route();
      }
    },
  });
  fill(main, h("section", { class: "sign-in" }, h("h1", null, "Sign in to regd"), form));
  main.setAttribute("aria-busy", "false");
  main.dataset.page = "sign-in";
  /** @type {HTMLInputElement} */ (form.querySelector("input")).focus();
}

async function route() {
  if (!session) { signInPage(); return; }
  const hash = location.hash.replace(/^#\/?/, "") || "repositories";
  const slash = hash.indexOf("/");
  const page = slash < 0 ? hash : hash.slice(0, slash);
  const param = slash < 0 ? "" : decodeURIComponent(hash.slice(slash + 1));
  const load = PAGES[page];
  const started = performance.now();
  main.setAttribute("aria-busy", "true");
  for (const link of document.querySelectorAll("#nav a")) {
    const target = link.getAttribute("href")?.slice(2);
    if (target === page || (page === "repository" && target === "repositories")) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!load) {
    fill(main, h("h1", null, "Not found"), h("p", null, `There is no page ${hash}.`));
  } else {
    const module = await load();
    const render = module[page.replace(/-(.)/g, (_m, c) => c.toUpperCase())];
    try {
      await render(main, session, param);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (!session) { signInPage(); return; }
      fill(main, h("h1", null, TITLES[page] || page), h("p", { class: "error", role: "alert" }, error.message));
    }
  }
  document.title = `${TITLES[page] || "regd"} · regd console`;
  main.dataset.page = page;
  main.setAttribute("aria-busy", "false");
  // What a page took, its API calls included: tests and curious operators read it.
  performance.measure(`regd:${page}`, { start: started });
}

window.addEventListener("hashchange", () => {
  route().then(() => main.focus({ preventScroll: true }));
});
window.addEventListener("regd:signed-out", () => {
  session = null;
  setCsrf("");
  for (const id of ["nav", "who"]) /** @type {HTMLElement} */ (document.getElementById(id)).hidden = true;
  announce("Your session has ended: sign in again");
});
document.getElementById("sign-out")?.addEventListener("click", async () => {
  await request("DELETE", "/ui/session");
  await loadSession();
  announce("Signed out");
  signInPage();
});

await loadSession();
await route();
