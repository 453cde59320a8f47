// @ts-check
/**
 * Building the page: the only way the console makes elements. Strings always become text nodes and
 * links point only at the console's own views, so engine text can never turn into markup.
 */

/** @typedef {string | number | Node | null | undefined | false} Child */

export const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * @param {string} tag
 * @param {Record<string, unknown>} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    else if (name === "class") element.className = String(value);
    else if (name === "href" && !String(value).startsWith("#")) throw new Error("the console links only to its own views");
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "number" ? String(child) : child);
  }
  return element;
}

/** Any engine value as display text: null as a dash, objects as indented JSON. */
export function text(/** @type {unknown} */ value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "object") return JSON.stringify(value, null, 2);
  return String(value);
}

export function badge(/** @type {unknown} */ status) {
  const label = text(status);
  return h("span", { class: `badge status-${label.replace(/[^a-z-]/g, "")}` }, label);
}

/**
 * A table; each cell is a string (shown as text) or a node.
 * @param {string[]} headers
 * @param {Child[][]} rows
 * @param {{ empty?: string, label?: string }} [options]
 */
export function table(headers, rows, options = {}) {
  if (rows.length === 0) return h("p", { class: "muted" }, options.empty ?? "Nothing to show.");
  return h(
    "table",
    { "aria-label": options.label },
    h("thead", {}, h("tr", {}, headers.map((header) => h("th", { scope: "col" }, header)))),
    h(
      "tbody",
      {},
      rows.map((cells) => h("tr", {}, cells.map((cell) => (cell instanceof HTMLElement && cell.tagName === "TD" ? cell : h("td", {}, cell))))),
    ),
  );
}

/** A cell holding long engine text (error messages), kept as text, wrapped. */
export const messageCell = (/** @type {unknown} */ value) => h("td", { class: "message" }, text(value));
export const monoCell = (/** @type {unknown} */ value) => h("td", { class: "mono" }, text(value));
export const jsonDetails = (/** @type {string} */ summary, /** @type {unknown} */ value) => h("details", {}, h("summary", {}, summary), h("pre", {}, text(value)));

/** @param {[string, unknown][]} pairs */
export function record(pairs) {
  return h("dl", { class: "record" }, pairs.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value instanceof Node ? value : text(value))]));
}

export function link(/** @type {string} */ hash, /** @type {string} */ label) {
  return h("a", { href: hash }, label);
}

export const workflowHash = (/** @type {string} */ service, /** @type {string} */ key) => `#/workflow/${encodeURIComponent(service)}/${encodeURIComponent(key)}`;
export const transactionHash = (/** @type {string} */ id) => `#/transactions/${encodeURIComponent(id)}`;

export function notice(/** @type {string} */ message, /** @type {"info" | "success" | "error"} */ kind = "info") {
  const element = $("notice");
  element.className = `notice ${kind}`;
  element.textContent = message;
}

