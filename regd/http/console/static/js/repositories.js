// Repositories: the tree with its filter, and one repository (tags, manifests, access).
import { del, get, post, repoPath, request } from "./api.js";
import { announce, confirmDialog, copyButton, field, fill, h, secretDialog, size, table, when } from "./dom.js";
import { act, apiForm } from "./forms.js";
import { pullOnlyClient } from "./credentials.js";

const API = "/api/v1/repositories";
const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");
const IMAGE_CONFIGS = new Set(["application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"]);
const INDEXES = new Set([ACCEPT.split(", ")[0], ACCEPT.split(", ")[2]]);

/** @typedef {{name: string, "tag-count": number, "manifest-count": number, "created-at": string}} Repo */

/** @param {Repo} repo */
function repoLink(repo, label = repo.name) {
  return h("a", { href: `#/repository/${repoPath(repo.name)}` }, label);
}

/** @param {Repo} repo @param {string} label */
function leaf(repo, label) {
  return h("li", null, repoLink(repo, label),
    h("span", { class: "meta" }, ` ${repo["tag-count"]} tags · created ${when(repo["created-at"])}`));
}

/** Nested names as a tree of namespaces. @param {Repo[]} repos */
function tree(repos) {
  /** @typedef {{children: Map<string, Node>, repo: Repo | null}} Node */
  /** @type {Node} */
  const root = { children: new Map(), repo: null };
  for (const repo of repos) {
    let node = root;
    for (const part of repo.name.split("/")) {
      if (!node.children.has(part)) node.children.set(part, { children: new Map(), repo: null });
      node = /** @type {Node} */ (node.children.get(part));
    }
    node.repo = repo;
  }
  /** @param {Node} node @param {string} prefix @returns {HTMLElement} */
  const list = (node, prefix) => h("ul", { class: "tree" }, Array.from(node.children, ([part, child]) => {
    const label = prefix + part;
    if (child.children.size === 0 && child.repo) return leaf(child.repo, label);
    // A namespace with one child folds into it: acc-x/myapp/myapp reads as one line.
    if (child.children.size === 1 && !child.repo) return list(child, `${label}/`).firstChild;
    return h("li", null, h("details", { open: true },
      h("summary", null, `${label}/`),
      child.repo ? h("ul", { class: "tree" }, leaf(child.repo, label)) : null,
      list(child, "")));
  }));
  return list(root, "");
}

/** @type {import("./main.js").Page} */
export async function repositories(main) {
  const repos = /** @type {Repo[]} */ (await get(API));
  const count = h("p", { id: "repo-count", role: "status" });
  const results = h("div", { id: "repo-results", "data-count": String(repos.length) });
  const show = (/** @type {string} */ filter) => {
    const wanted = filter.trim().toLowerCase();
    const shown = wanted ? repos.filter((repo) => repo.name.includes(wanted)) : repos;
    fill(count, `${shown.length} of ${repos.length} repositories`);
    fill(results, wanted
      ? h("ul", { class: "tree" }, shown.map((repo) => leaf(repo, repo.name)))
      : tree(repos));
    results.dataset.count = String(shown.length);
  };
  const filter = h("input", { type: "search", id: "repo-filter", name: "filter", autocomplete: "off" });
  filter.addEventListener("input", () => show(/** @type {HTMLInputElement} */ (filter).value));
  const create = apiForm({
    label: "Create repository",
    submit: "Create repository",
    fields: [field("New repository", { name: "name", placeholder: "team/app", required: true, "data-about": "repository" })],
    send: async (values) => {
      const made = await post(API, { name: values.name });
      announce(`Created ${made.name}`);
      location.hash = `#/repository/${repoPath(made.name)}`;
    },
  });
  show("");
  fill(main,
    h("h1", null, "Repositories"),
    create,
    h("div", { class: "field" }, h("label", { for: "repo-filter" }, "Filter repositories"), filter),
    count,
    results);
}

/** @param {string} name @param {string} digest */
async function manifestOf(name, digest) {
  return request("GET", `/v2/${repoPath(name)}/manifests/${digest}`, undefined, { Accept: ACCEPT });
}

/** @param {any} platform */
const platformText = (platform) => platform && platform.os
  ? `${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ""}` : "";

/**
 * Size, platforms and kind of a manifest, read from /v2/ (an image's platform from its
 * config). @param {string} name @param {string} digest
 */
async function describe(name, digest) {
  const manifest = await manifestOf(name, digest);
  if (INDEXES.has(manifest.mediaType) || Array.isArray(manifest.manifests)) {
    const children = manifest.manifests || [];
    const platforms = children.map((/** @type {any} */ m) => platformText(m.platform)).filter(Boolean);
    return { size: null, platforms: platforms.join(", ") || "–", kind: `index of ${children.length}`,
      children: children.map((/** @type {any} */ m) => m.digest) };
  }
  const layers = (manifest.layers || []).reduce((/** @type {number} */ sum, /** @type {any} */ l) => sum + (l.size || 0), 0);
  let platform = "";
  if (manifest.config && IMAGE_CONFIGS.has(manifest.config.mediaType) && manifest.config.size < 1 << 20) {
    const config = await request("GET", `/v2/${repoPath(name)}/blobs/${manifest.config.digest}`).catch(() => null);
    platform = platformText(config);
  }
  return { size: layers + (manifest.config?.size || 0), platforms: platform || "–", kind: manifest.artifactType || "image", children: [] };
}

/** What the Size column says. @param {any} info @param {Map<string, any>} described */
function sizeText(info, described) {
  if (!info) return "–";
  if (info.size !== null) return size(info.size);
  const sizes = info.children.map((/** @type {string} */ d) => described.get(d)?.size);
  const known = sizes.every((/** @type {any} */ n) => typeof n === "number");
  return known ? `${size(sizes.reduce((/** @type {number} */ a, /** @type {number} */ b) => a + b, 0))} (${info.kind})` : info.kind;
}

/** @type {import("./main.js").Page} */
export async function repository(main, session, name) {
  const [summary, tags, manifests] = await Promise.all([
    get(`${API}/${repoPath(name)}`),
    get(`${API}/${repoPath(name)}/-/tags`),
    get(`${API}/${repoPath(name)}/-/manifests`),
  ]);
  const host = location.host;
  const digests = [...new Set(manifests.map((/** @type {any} */ m) => m.digest))].slice(0, 100);
  const described = new Map(await Promise.all(digests.map(async (digest) =>
    /** @type {[string, any]} */ ([digest, await describe(name, digest).catch(() => null)]))));
  const reload = () => repository(main, session, name);

  const tagRows = tags.map((/** @type {any} */ tag) => {
    const info = described.get(tag.digest);
    const reference = `${host}/${name}:${tag.name}`;
    const remove = h("button", { type: "button", class: "danger", "aria-label": `Delete tag ${tag.name}` }, "Delete");
    remove.addEventListener("click", () => act(remove, async () => {
      if (!await confirmDialog("Delete tag", `Delete the tag ${tag.name} of ${name}? The manifest stays.`, "Delete tag")) return;
      await del(`${API}/${repoPath(name)}/-/tags/${encodeURIComponent(tag.name)}`);
      announce(`Deleted tag ${tag.name}`);
      await reload();
    }));
    return h("tr", { "data-tag": tag.name },
      h("th", { scope: "row" }, tag.name),
      h("td", null, h("code", { title: tag.digest }, tag.digest.slice(0, 19))),
      h("td", null, sizeText(info, described)),
      h("td", null, when(tag["updated-at"])),
      h("td", null, info ? info.platforms : "–"),
      h("td", { class: "pull" },
        h("code", null, `docker pull ${reference}`), " ",
        copyButton(`docker pull ${reference}`, "Copy docker"), " ",
        copyButton(`podman pull ${reference}`, "Copy podman")),
      h("td", null, remove));
  });
  const manifestRows = manifests.map((/** @type {any} */ manifest) => {
    const remove = h("button", { type: "button", class: "danger", "aria-label": `Delete manifest ${manifest.digest.slice(0, 19)}` }, "Delete");
    remove.addEventListener("click", () => act(remove, async () => {
      const tagged = manifest.tags.length ? ` and its tags ${manifest.tags.join(", ")}` : "";
      if (!await confirmDialog("Delete manifest", `Delete ${manifest.digest}${tagged}?`, "Delete manifest")) return;
      await del(`${API}/${repoPath(name)}/-/manifests/${manifest.digest}`);
      announce("Deleted the manifest");
      await reload();
    }));
    return h("tr", null,
      h("th", { scope: "row" }, h("code", { title: manifest.digest }, manifest.digest.slice(0, 19))),
      h("td", null, IMAGE_CONFIGS.has(manifest["artifact-type"]) ? manifest["media-type"] : manifest["artifact-type"] || manifest["media-type"]),
      h("td", null, size(manifest.size)),
      h("td", null, manifest.tags.join(", ") || "–"),
      h("td", null, when(manifest["created-at"])),
      h("td", null, remove));
  });

  const deleteRepo = h("button", { type: "button", class: "danger" }, "Delete repository");
  deleteRepo.addEventListener("click", () => act(deleteRepo, async () => {
    if (!await confirmDialog("Delete repository", `Delete ${name} with all its tags and manifests?`, "Delete repository")) return;
    await del(`${API}/${repoPath(name)}`);
    announce(`Deleted ${name}`);
    location.hash = "#/repositories";
  }));

  fill(main,
    h("p", { class: "crumbs" }, h("a", { href: "#/repositories" }, "Repositories"), " / "),
    h("h1", null, name),
    h("p", { class: "meta" }, `${summary["tag-count"]} tags · ${summary["manifest-count"]} manifests · created ${when(summary["created-at"])}`),
    h("section", { "aria-labelledby": "tags-h" },
      h("h2", { id: "tags-h" }, "Tags"),
      tags.length
        ? table(`Tags of ${name}`, ["Tag", "Digest", "Size", "Pushed", "Platforms", "Pull", ""], tagRows)
        : h("p", null, "No tags yet. Push with ", h("code", null, `docker push ${host}/${name}:TAG`), ".")),
    h("section", { "aria-labelledby": "manifests-h" },
      h("h2", { id: "manifests-h" }, "Manifests"),
      manifests.length
        ? table(`Manifests of ${name}`, ["Digest", "Type", "Size", "Tags", "Created", ""], manifestRows)
        : h("p", null, "No manifests.")),
    await accessSection(name, reload),
    h("section", { "aria-labelledby": "danger-h" }, h("h2", { id: "danger-h" }, "Delete"), deleteRepo));
}

/** The repository's access rules, when the caller may manage them. @param {string} name @param {() => Promise<void>} reload */
async function accessSection(name, reload) {
  const rulesPath = `${API}/${repoPath(name)}/-/access-rules`;
  const heading = h("h2", { id: "access-h" }, "Access rules");
  let rules;
  try {
    rules = await get(rulesPath);
  } catch {
    return h("section", { "aria-labelledby": "access-h" }, heading,
      h("p", null, "You may not manage who has access to this repository."));
  }
  const isPublic = rules.some((/** @type {any} */ rule) => rule.principal === "public");
  const publicBox = h("input", { type: "checkbox", id: "public-read", checked: isPublic });
  publicBox.addEventListener("change", () => act(publicBox.parentElement || publicBox, async () => {
    if (/** @type {HTMLInputElement} */ (publicBox).checked) await post(rulesPath, { principal: "public", actions: ["pull"] });
    else await del(`${rulesPath}/public`);
    announce(isPublic ? "Public read access removed" : "Public read access granted");
    await reload();
  }));
  const rows = rules.map((/** @type {any} */ rule) => {
    const remove = h("button", { type: "button", "aria-label": `Remove the rule of ${rule.principal}` }, "Remove");
    remove.addEventListener("click", () => act(remove, async () => {
      if (!await confirmDialog("Remove access rule", `Remove the access of ${rule.principal} to ${name}?`, "Remove")) return;
      await del(`${rulesPath}/${encodeURIComponent(rule.principal)}`);
      await reload();
    }));
    return h("tr", null, h("th", { scope: "row" }, rule.principal), h("td", null, rule.actions.join(", ")), h("td", null, remove));
  });
  const addRule = apiForm({
    label: "Add access rule",
    submit: "Add access rule",
    fields: [
      field("Principal", { name: "principal", placeholder: "user:alice or api-client:cli-ab12c", required: true, "data-about": "principal" }),
      h("fieldset", { class: "checks" }, h("legend", null, "Actions"),
        ["pull", "push", "delete"].map((action) => h("label", null,
          h("input", { type: "checkbox", name: "actions", value: action, checked: action === "pull", "data-about": "actions action" }), ` ${action}`))),
    ],
    send: async (_values, form) => {
      const data = new FormData(form);
      await post(rulesPath, { principal: data.get("principal"), actions: data.getAll("actions") });
      announce("Access rule added");
      await reload();
    },
  });
  const newClient = h("button", { type: "button", id: "new-pull-client" }, "Add access rule → new pull-only API client");
  newClient.addEventListener("click", () => act(newClient, async () => {
    const made = await pullOnlyClient(name, location.host);
    await secretDialog(`New pull-only API client ${made.id}`,
      "This secret is shown once. Copy it now: it cannot be read again (reset it to get a new one).",
      made.formats);
    await reload();
    document.getElementById("new-pull-client")?.focus();
  }));
  return h("section", { "aria-labelledby": "access-h" }, heading,
    h("div", { class: "field check" }, publicBox, h("label", { for: "public-read" }, " Public read access (anyone may pull, without signing in)")),
    rows.length ? table(`Access rules of ${name}`, ["Principal", "Actions", ""], rows) : h("p", null, "No access rules."),
    newClient,
    addRule);
}
