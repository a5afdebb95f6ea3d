// Small DOM helpers: element building, messages, dialogs, copy buttons. No innerHTML of data.

/**
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...(Node | string | null | undefined | false | Array<Node | string | null | undefined | false>)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (value === true) {
      element.setAttribute(key, "");
    } else {
      element.setAttribute(key, String(value));
    }
  }
  append(element, children);
  return element;
}

/** @param {Element} element @param {any[]} children */
function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/** Replace an element's children. @param {Element} element @param {...any} children */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** Tell screen readers (and the status region) what just happened. @param {string} text */
export function announce(text) {
  const status = document.getElementById("status");
  if (status) status.textContent = text;
}

let uniqueCounter = 0;
/** @param {string} prefix */
export function uid(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

/**
 * A labelled form field.
 * @param {string} label
 * @param {Record<string, any>} attrs  the input's attributes (name required)
 * @param {string} [hint]
 */
export function field(label, attrs, hint) {
  const id = uid(attrs.name);
  const tag = attrs.tag || "input";
  const { tag: _ignored, options, ...rest } = attrs;
  const hintId = hint ? `${id}-hint` : null;
  const control =
    tag === "select"
      ? h("select", { id, "aria-describedby": hintId, ...rest },
          (options || []).map((/** @type {[string, string]} */ [value, text]) =>
            h("option", { value }, text)))
      : h(tag, { id, "aria-describedby": hintId, ...rest });
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
  );
}

/** A table. @param {string} caption @param {string[]} heads @param {Node[]} rows */
export function table(caption, heads, rows) {
  return h("table", null,
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", null, h("tr", null, heads.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", null, rows),
  );
}

/** @param {string} text @param {string} [label] */
export function copyButton(text, label = "Copy") {
  const button = h("button", { type: "button", class: "copy" }, label);
  button.addEventListener("click", async () => {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
    announce("Copied to the clipboard");
  });
  return button;
}

/**
 * A modal dialog; resolves true when confirmed. @param {string} title @param {string} message
 * @param {string} action  the confirming button's text
 * @returns {Promise<boolean>}
 */
export function confirmDialog(title, message, action) {
  return new Promise((resolve) => {
    const titleId = uid("confirm");
    const dialog = h("dialog", { "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      h("p", null, message),
      h("form", { method: "dialog", class: "actions" },
        h("button", { value: "cancel", type: "submit" }, "Cancel"),
        h("button", { value: "confirm", type: "submit", class: "danger" }, action),
      ),
    );
    document.body.append(dialog);
    dialog.addEventListener("close", () => {
      resolve(/** @type {HTMLDialogElement} */ (dialog).returnValue === "confirm");
      dialog.remove();
    });
    /** @type {HTMLDialogElement} */ (dialog).showModal();
  });
}

/**
 * A modal dialog showing something once, with tabs. @param {string} title
 * @param {string} intro @param {Array<[string, string]>} tabs  [label, text]
 * @returns {Promise<void>}
 */
export function secretDialog(title, intro, tabs) {
  return new Promise((resolve) => {
    const titleId = uid("secret");
    const tabButtons = [];
    const panels = [];
    for (const [index, [label, text]] of tabs.entries()) {
      const tabId = uid("tab");
      const panelId = uid("panel");
      const selected = index === 0;
      tabButtons.push(h("button", {
        type: "button", role: "tab", id: tabId, "aria-controls": panelId,
        "aria-selected": String(selected), tabindex: selected ? "0" : "-1",
      }, label));
      panels.push(h("div", { role: "tabpanel", id: panelId, "aria-labelledby": tabId,
        hidden: !selected, tabindex: "0" },
        h("pre", { "data-format": label }, text),
        copyButton(text, `Copy ${label}`)));
    }
    const select = (/** @type {number} */ index) => {
      tabButtons.forEach((button, i) => {
        button.setAttribute("aria-selected", String(i === index));
        button.tabIndex = i === index ? 0 : -1;
        panels[i].hidden = i !== index;
      });
      tabButtons[index].focus();
    };
    tabButtons.forEach((button, index) => {
      button.addEventListener("click", () => select(index));
      button.addEventListener("keydown", (event) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (step) select((index + step + tabButtons.length) % tabButtons.length);
      });
    });
    const dialog = h("dialog", { "aria-labelledby": titleId, class: "wide" },
      h("h2", { id: titleId }, title),
      h("p", { class: "warning" }, intro),
      h("div", { role: "tablist", "aria-label": "Formats" }, tabButtons),
      panels,
      h("form", { method: "dialog", class: "actions" },
        h("button", { type: "submit" }, "Done")),
    );
    document.body.append(dialog);
    dialog.addEventListener("close", () => { dialog.remove(); resolve(); });
    /** @type {HTMLDialogElement} */ (dialog).showModal();
  });
}

/** @param {number | null | undefined} bytes */
export function size(bytes) {
  if (bytes === null || bytes === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

/** @param {string | null | undefined} iso */
export function when(iso) {
  if (!iso) return "–";
  return iso.replace("T", " ").replace("Z", " UTC");
}
