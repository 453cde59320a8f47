// @ts-check
/** The doctor's readout: each component's state, the recent failures (with a way to their workflow and to recovery), deployments, services, nodes. */
import { api, can, failurePanel, IDENTIFIER, notAllowed, OPERATOR } from "../api.js";
import { recoverButton } from "../confirm.js";
import { badge, h, link, messageCell, monoCell, table, text, workflowHash } from "../dom.js";

/** @param {string[]} _parts @param {HTMLElement} view @param {() => void} refresh */
export async function viewDoctor(_parts, view, refresh) {
  if (!can("restateDoctor")) {
    view.replaceChildren(h("h2", {}, "Doctor"), notAllowed("The doctor"));
    return;
  }
  view.replaceChildren(h("h2", {}, "Doctor"), h("p", { class: "muted" }, "Probing the engine…"));
  const answer = await api("POST", `${OPERATOR}/restate/doctor`, { body: {} });
  const rerun = h("button", { type: "button", onclick: refresh }, "Run doctor again");
  if (!answer.ok) {
    view.replaceChildren(h("h2", {}, "Doctor"), failurePanel(answer), rerun);
    return;
  }
  const report = answer.body;
  const nodes = report.nodes ?? { status: null, items: [], error: null, clusterName: null, metadataMembers: [] };
  const components = [
    ["ingress", report.ingress, report.ingress.latencyMs === null ? "—" : `${report.ingress.latencyMs} ms`],
    ["admin", report.admin, `version ${text(report.admin.version)}, ${text(report.admin.latencyMs)} ms`],
    ["deployments", report.deployments, `${report.deployments.items.length} registered`],
    ["services", report.services, `${report.services.items.length} registered`],
    ["invocations", report.invocations, Object.entries(report.invocations.byStatus).map(([status, count]) => `${status}: ${count}`).join(", ") || "none"],
    ["nodes", nodes, `${nodes.items.length} node(s), cluster ${text(nodes.clusterName)}`],
  ];
  const failures = report.invocations.recentFailures.map((/** @type {any} */ failure) => [
    monoCell(failure.failedAt),
    failure.serviceName,
    monoCell(failure.serviceKey),
    monoCell(failure.id),
    messageCell(failure.errorMessage),
    h(
      "td",
      {},
      h(
        "div",
        { class: "actions" },
        failure.serviceKey && IDENTIFIER.test(failure.serviceKey) ? link(workflowHash(failure.serviceName, failure.serviceKey), "Open workflow") : null,
        failure.serviceKey && IDENTIFIER.test(failure.serviceKey) ? recoverButton(failure.serviceName, failure.serviceKey, refresh) : null,
      ),
    ),
  ]);
  view.replaceChildren(
    h("h2", {}, "Doctor"),
    h("div", { class: "actions" }, rerun, h("span", { class: "muted" }, `request ${text(answer.requestId)}`)),
    h("h3", {}, "Components"),
    table(
      ["component", "state", "detail", "error"],
      components.map(([name, component, detail]) => [name, h("td", { "data-component": name }, badge(component.status)), detail, messageCell(component.error)]),
      { label: "components" },
    ),
    h("h3", {}, "Recent failures"),
    table(["failed at", "service", "key", "invocation", "error", ""], failures, { empty: "No failed, backing-off or paused invocation.", label: "recent failures" }),
    h("h3", {}, "Deployments"),
    table(["id", "service URL", "created"], report.deployments.items.map((/** @type {any} */ d) => [monoCell(d.id), monoCell(d.serviceUrl), monoCell(d.createdAt)]), { empty: "No deployment." }),
    h("h3", {}, "Services"),
    table(["name", "revision"], report.services.items.map((/** @type {any} */ s) => [s.name, text(s.revision)]), { empty: "No service." }),
    h("h3", {}, "Nodes"),
    table(
      ["node", "url", "state", "generation", "roles", "error"],
      nodes.items.map((/** @type {any} */ n) => [text(n.nodeId), monoCell(n.url), h("td", {}, badge(n.status)), text(n.generation), n.roles.join(", "), messageCell(n.error)]),
      { empty: "No node probed." },
    ),
  );
}

