// Forms that send to the API and show its refusal next to the field it concerns.
import { ApiError } from "./api.js";
import { announce, h } from "./dom.js";

/**
 * The field an API message is about: a quoted field name (`'tag-ttl' is required`), a field
 * named in the message, else the form's first field.
 * @param {HTMLFormElement} form @param {string} message
 * @returns {HTMLElement | null}
 */
function fieldOf(form, message) {
  const controls = /** @type {HTMLElement[]} */ (
    Array.from(form.querySelectorAll("input[name], select[name], textarea[name]")));
  const text = message.toLowerCase();
  for (const control of controls) {
    const name = control.getAttribute("name") || "";
    const aliases = [name, ...(control.dataset.about || "").split(" ").filter(Boolean)];
    if (aliases.some((alias) => text.includes(`'${alias}'`) || text.includes(`"${alias}"`))) {
      return control;
    }
  }
  for (const control of controls) {
    const aliases = (control.dataset.about || "").split(" ").filter(Boolean);
    if (aliases.some((alias) => text.includes(alias))) return control;
  }
  return controls[0] || null;
}

/** @param {HTMLFormElement} form */
function clearErrors(form) {
  for (const old of form.querySelectorAll(".error")) old.remove();
  for (const control of form.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    const describedBy = (control.getAttribute("aria-describedby") || "")
      .split(" ").filter((id) => id && !id.endsWith("-error")).join(" ");
    if (describedBy) control.setAttribute("aria-describedby", describedBy);
    else control.removeAttribute("aria-describedby");
  }
}

/**
 * Show an error next to the field it concerns (or at the top of the form).
 * @param {HTMLFormElement} form @param {string} message
 */
export function showError(form, message) {
  clearErrors(form);
  const control = fieldOf(form, message);
  const id = `${control?.id || form.id || "form"}-error`;
  const note = h("p", { class: "error", id, role: "alert" }, message);
  if (control) {
    control.setAttribute("aria-invalid", "true");
    const describedBy = control.getAttribute("aria-describedby");
    control.setAttribute("aria-describedby", describedBy ? `${describedBy} ${id}` : id);
    control.closest(".field")?.append(note);
  } else {
    form.prepend(note);
  }
}

/**
 * A form whose submission calls `send(values)`; API errors go next to their field.
 * @param {{label: string, fields: Node[], submit: string, send: (values: Record<string, string>, form: HTMLFormElement) => Promise<void>, className?: string}} spec
 */
export function apiForm(spec) {
  const submit = h("button", { type: "submit" }, spec.submit);
  const form = /** @type {HTMLFormElement} */ (
    h("form", { class: spec.className || "inline", "aria-label": spec.label, novalidate: true },
      spec.fields, h("div", { class: "actions" }, submit)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const values = /** @type {Record<string, string>} */ ({});
    for (const [key, value] of new FormData(form).entries()) values[key] = String(value);
    submit.disabled = true;
    try {
      await spec.send(values, form);
    } catch (error) {
      if (!(error instanceof ApiError) && !(error instanceof InputError)) throw error;
      showError(form, error.message);
      announce(error.message);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** A refusal found before asking the API (a YAML box that does not parse, say). */
export class InputError extends Error {}

/** Run an action started by a button; an API refusal is shown beside it. @param {HTMLElement} near @param {() => Promise<void>} action */
export async function act(near, action) {
  const previous = near.parentElement?.querySelector(":scope > .error");
  previous?.remove();
  try {
    await action();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    near.after(h("p", { class: "error", role: "alert" }, error.message));
    announce(error.message);
  }
}
