// A new pull-only API client for one repository, and its secret as Docker config.json,
// a Kubernetes Secret and environment variables (shown once).
import { post, repoPath } from "./api.js";

/** @param {string} text */
const base64 = (text) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

/**
 * The formats a client's credentials are shown in.
 * @param {string} server @param {string} username @param {string} secret @param {string} name
 * @returns {Array<[string, string]>}
 */
export function credentialFormats(server, username, secret, name) {
  const auth = base64(`${username}:${secret}`);
  const config = { auths: { [server]: { username, password: secret, auth } } };
  const dockerConfig = JSON.stringify(config, null, 2);
  const secretName = `regd-${name.replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "")}`.slice(0, 63);
  const k8s = [
    "apiVersion: v1",
    "kind: Secret",
    "metadata:",
    `  name: ${secretName}`,
    "type: kubernetes.io/dockerconfigjson",
    "data:",
    `  .dockerconfigjson: ${base64(JSON.stringify(config))}`,
    "",
  ].join("\n");
  const env = [`REGISTRY=${server}`, `REGISTRY_USERNAME=${username}`, `REGISTRY_PASSWORD=${secret}`, ""].join("\n");
  return [["Docker config.json", dockerConfig], ["Kubernetes Secret", k8s], ["env", env]];
}

/**
 * Brightbox's "Add access rule": an API client that may pull `name` and nothing else, and
 * the access rule that shows it on the repository.
 * @param {string} name @param {string} server
 */
export async function pullOnlyClient(name, server) {
  const client = await post("/api/v1/api-clients", {
    description: `pull ${name}`,
    grants: [{ capabilities: ["pull"], repositories: [name] }],
  });
  await post(`/api/v1/repositories/${repoPath(name)}/-/access-rules`, {
    principal: `api-client:${client.id}`, actions: ["pull"],
  });
  return { id: client.id, formats: credentialFormats(server, client.id, client.secret, name) };
}
