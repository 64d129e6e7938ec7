"use strict";
// The operator's page. Without an admin session it runs the email-code
// sign-in; with one it asks /admin/overview every two seconds and redraws
// from that one document. Server data reaches the page through textContent
// only, never as HTML.

const POLL_MS = 2000;
// The span of a chart: the five minutes a node keeps of each kind.
const CHART_SECONDS = 300;
// Of the 50 messages a kind remembers, the newest shown in its detail.
const MESSAGES_SHOWN = 20;

const byId = (id) => document.getElementById(id);
let pollTimer = null;
let signingInAs = null;
// The kind whose detail is open: {nodeId, name, thisNode, address, adminPage}.
let openDetail = null;

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) tr.append(cell instanceof Node ? cell : element("td", cell));
  return tr;
}

function cell(content, className) {
  const td = element("td", null, className);
  td.append(content);
  return td;
}

function show(section) {
  for (const id of ["signin", "admins-only", "dashboard"]) byId(id).hidden = id !== section;
  byId("sign-out").hidden = section === "signin";
}

function setStatus(text) {
  byId("status").textContent = text;
}

const ms = (value) => (value >= 100 ? value.toFixed(0) : value.toFixed(2));
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "–");

async function api(method, path, body) {
  const init = { method, headers: { accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const isJson = (response.headers.get("content-type") || "").includes("json");
  return { status: response.status, data: isJson ? await response.json() : null };
}

// ---- Sign-in ---------------------------------------------------------------

function signInMessage(text, ok) {
  const message = byId("signin-message");
  message.textContent = text;
  message.classList.toggle("ok", Boolean(ok));
}

async function askForCode(event) {
  event.preventDefault();
  signingInAs = byId("email").value;
  const answer = await api("POST", "/auth/otp", { email: signingInAs });
  if (answer.status !== 202) {
    signInMessage(answer.data?.detail || `The code could not be sent (${answer.status}).`);
    return;
  }
  byId("code-form").hidden = false;
  byId("code").focus();
  signInMessage(`A code is on its way to ${signingInAs}.`, true);
}

async function signIn(event) {
  event.preventDefault();
  const answer = await api("POST", "/auth/otp/verify", { email: signingInAs, otp: byId("code").value });
  if (answer.status !== 200) {
    signInMessage(answer.data?.detail || `Sign-in failed (${answer.status}).`);
    return;
  }
  byId("code").value = "";
  byId("code-form").hidden = true;
  signInMessage("");
  poll();
}

async function signOut() {
  await api("POST", "/auth/logout");
  clearTimeout(pollTimer);
  openDetail = null;
  setStatus("");
  show("signin");
}

// ---- Polling ---------------------------------------------------------------

// One poll runs at a time: asking while one runs (a click) shares it, and
// each poll schedules the next when it ends, whatever happened meanwhile.
let polling = null;

function poll() {
  clearTimeout(pollTimer);
  if (!polling) polling = pollOnce().finally(() => (polling = null));
  return polling;
}

async function pollOnce() {
  let again = true;
  try {
    const answer = await api("GET", "/admin/overview");
    if (answer.status === 401) {
      setStatus("");
      show("signin");
      again = false;
    } else if (answer.status === 403) {
      setStatus("");
      show("admins-only");
      again = false;
    } else if (answer.status === 200) {
      show("dashboard");
      render(answer.data);
      if (openDetail) await renderDetail();
    } else {
      setStatus(answer.data?.detail || `The overview failed (${answer.status}); trying again.`);
    }
  } catch {
    setStatus("The node does not answer; trying again.");
  } finally {
    clearTimeout(pollTimer);
    if (again) pollTimer = setTimeout(poll, POLL_MS);
  }
}

// ---- The overview ----------------------------------------------------------

function render(overview) {
  setStatus(`${overview.node} · ${overview.nodes.length} node(s) · updated ${time(overview.generatedAt)}`);
  byId("nodes").replaceChildren(...overview.nodes.map((node) => nodeCard(node, overview)));
  renderBus(overview.bus);
  renderMail(overview.mail);
}

function nodeCard(node, overview) {
  const card = element("section", null, "card node");
  card.dataset.node = node.nodeId;
  const head = element("div", null, "node-head");
  const title = element("h2", node.nodeId);
  if (node.thisNode) title.append(" ", element("span", "this node", "this-node"));
  head.append(
    title,
    element("p", `roles: ${node.roles.join(", ") || "none (HTTP only)"}`),
    element(
      "p",
      node.thisNode
        ? `last heartbeat: ${time(node.lastSeen)}`
        : `last heartbeat: ${time(node.lastSeen)} by its clock, heard ${node.heardSecsAgo.toFixed(0)} s before this update`,
    ),
    element("p", null, "legend"),
  );
  const legend = head.lastChild;
  legend.append(
    "charts, last 5 min: ",
    element("span", "■ handled/s", "rate"),
    " ",
    element("span", "■ queued", "queue"),
    " ",
    element("span", "— p99 ms", "latency"),
  );

  const table = element("table", null, "kinds");
  const header = row(
    ["kind", "instances", "queued", "in flight", "handled/s", "handled", "failed", "restarts", "p50 ms", "p99 ms", "last 5 minutes"]
      .map((name) => element("th", name)),
  );
  table.append(element("thead"), element("tbody"));
  table.tHead.append(header);
  for (const kind of node.kinds) table.tBodies[0].append(kindRow(node, kind, overview.sampleEverySecs));
  if (node.kinds.length === 0) table.tBodies[0].append(row([cell("hosts no actor kind", "text")]));
  card.append(head, table);
  return card;
}

function kindRow(node, kind, sampleEverySecs) {
  const open = element("button", kind.name, "link");
  open.type = "button";
  open.addEventListener("click", () => {
    openDetail = {
      nodeId: node.nodeId,
      name: kind.name,
      thisNode: node.thisNode,
      address: node.address,
      adminPage: node.adminPage,
    };
    poll();
  });
  const rates = kind.history.handledPerSec;
  const tr = row([
    cell(open),
    kind.instances,
    kind.queued,
    kind.inFlight,
    rates.length ? rates[rates.length - 1] : "–",
    element("td", kind.handled, "handled"),
    element("td", kind.failed, kind.failed ? "bad" : ""),
    element("td", kind.restarts, kind.restarts ? "bad" : ""),
    ms(kind.latencyMs.p50),
    ms(kind.latencyMs.p99),
    cell(chart(kind.history, sampleEverySecs)),
  ]);
  tr.dataset.kind = kind.name;
  tr.classList.toggle("selected", openDetail?.nodeId === node.nodeId && openDetail?.name === kind.name);
  return tr;
}

// Handled per second as a pale area, queued messages as bars and the p99
// latency as a line, each scaled to its own maximum, the newest sample at
// the right edge.
function chart(history, sampleEverySecs) {
  const width = 180;
  const height = 40;
  const scale = window.devicePixelRatio || 1;
  const canvas = element("canvas", null, "chart");
  canvas.width = width * scale;
  canvas.height = height * scale;
  const { queued, handledPerSec: rates, p99Ms: p99 } = history;
  const maxQueued = Math.max(1, ...queued);
  const maxRate = Math.max(0.1, ...rates);
  const maxP99 = Math.max(0.001, ...p99);
  canvas.title = `last ${queued.length * sampleEverySecs} s: up to ${maxRate} handled/s, ` +
    `queued up to ${Math.max(0, ...queued)}, p99 up to ${ms(Math.max(0, ...p99))} ms`;
  const context = canvas.getContext("2d");
  context.scale(scale, scale);
  const step = width / (CHART_SECONDS / sampleEverySecs);
  const x = (i, count) => width - (count - i) * step;
  context.fillStyle = "#dbe6fb";
  context.fillRect(0, height - 1, width, 1);
  rates.forEach((value, i) => {
    const areaHeight = (value / maxRate) * (height - 4);
    context.fillRect(x(i, rates.length), height - areaHeight, step, areaHeight);
  });
  context.fillStyle = "#2f6fde";
  queued.forEach((value, i) => {
    const barHeight = (value / maxQueued) * (height - 4);
    context.fillRect(x(i, queued.length), height - barHeight, Math.max(1, step - 0.5), barHeight);
  });
  context.strokeStyle = "#e0661b";
  context.lineWidth = 1.5;
  context.beginPath();
  p99.forEach((value, i) => {
    const y = height - 2 - (value / maxP99) * (height - 6);
    if (i === 0) context.moveTo(x(i, p99.length), y);
    else context.lineTo(x(i, p99.length), y);
  });
  context.stroke();
  return canvas;
}

// ---- A kind's detail -------------------------------------------------------

async function renderDetail() {
  const { nodeId, name, thisNode, address, adminPage } = openDetail;
  byId("detail").hidden = false;
  byId("detail-title").textContent = `${name} on ${nodeId}`;
  const note = byId("detail-note");
  note.replaceChildren();
  byId("detail-local").hidden = !thisNode;
  if (!thisNode) {
    // Another node keeps its instances and messages; its own page shows them.
    // The server offers a link only to a plain http(s) origin; any other
    // address a heartbeat brought is shown as text.
    note.append(`Its instances and last messages are kept by ${nodeId}: `);
    if (adminPage) {
      const link = element("a", `open ${nodeId}'s page`);
      link.href = adminPage;
      note.append(link);
    } else {
      note.append(element("span", `its address, ${address}, is not a node's web address and is not linked.`, "text"));
    }
    return;
  }
  const shown = openDetail;
  const answer = await api("GET", `/admin/actors/${encodeURIComponent(name)}`);
  // Closed, or another kind opened, while this one was asked for.
  if (openDetail !== shown) return;
  if (answer.status !== 200) {
    note.textContent = answer.data?.detail || `The detail failed (${answer.status}).`;
    return;
  }
  const actor = answer.data;
  const queues = [
    ["commands from other nodes", actor.clusterQueue],
    ["events", actor.eventQueue],
  ]
    .filter(([, queue]) => queue)
    .map(([what, queue]) => ` On the broker, ${what}: ${queue.messages} waiting, ${queue.consumers} consumer(s).`);
  const bridge = actor.bridge
    ? [
        ` Publishes: ${actor.bridge.publishesQueued} queued, ${actor.bridge.awaitingConfirm} waiting for the broker's confirm` +
          ` (confirm p50 ${ms(actor.bridge.confirmLatencyMs.p50)} ms, p99 ${ms(actor.bridge.confirmLatencyMs.p99)} ms).`,
        ` Deliveries: ${actor.bridge.consumed} consumed, ${actor.bridge.deadLettered} dead-lettered.`,
        ` Calls: ${actor.bridge.callsQueued} queued, ${actor.bridge.callsWaiting} waiting for replies.`,
        ` Reconnections: ${actor.bridge.reconnections}.`,
      ]
    : [];
  note.textContent =
    `${actor.instances.length} instance(s); last message ${time(actor.lastMessageAt)}.` + queues.join("") + bridge.join("");
  byId("detail-instances").tBodies[0].replaceChildren(
    ...actor.instances.map((instance) =>
      row([
        instance.id,
        instance.worker ?? "own thread",
        instance.queued,
        instance.inFlight,
        instance.handled,
        instance.failed,
        instance.restarts,
        ms(instance.latencyMs.p50),
        ms(instance.latencyMs.p99),
      ]),
    ),
  );
  byId("detail-messages").tBodies[0].replaceChildren(
    ...actor.recentMessages
      .slice(-MESSAGES_SHOWN)
      .reverse()
      .map((message) =>
        row([
          time(message.receivedAt),
          element("td", message.type, "text"),
          message.instance,
          element("td", message.correlationId ?? "–", "text"),
          ms(message.tookMs),
          element("td", message.outcome, message.outcome === "ok" ? "" : "bad"),
        ]),
      ),
  );
}

function closeDetail() {
  openDetail = null;
  byId("detail").hidden = true;
  poll();
}

// ---- Bus and mail ----------------------------------------------------------

function renderBus(bus) {
  const broker = bus.broker;
  const counts = [
    ["broker", broker ? (broker.connected ? "connected" : "disconnected") : "none (in process)"],
  ];
  if (broker) {
    counts.push(
      ["published", broker.published],
      ["confirmed", broker.confirmed],
      ["waiting for a confirm", broker.awaitingConfirm],
      ["confirm p50 / p99 ms", `${ms(broker.confirmLatencyMs.p50)} / ${ms(broker.confirmLatencyMs.p99)}`],
      ["calls waiting for replies", broker.callsWaiting],
      ["reconnections", broker.reconnections],
      ["consumed", broker.consumed],
      ["redelivered", broker.redelivered],
      ["dead-lettered", broker.deadLettered],
      ["refused (not signed by a node)", broker.refused],
      ["heartbeats ignored", broker.heartbeatsIgnored],
    );
  }
  counts.push(
    ["events published here", bus.events.published],
    ["events delivered", bus.events.delivered],
    ["events pending", bus.events.pending],
    ["events dead", bus.events.deadLettered],
    ["outbox backlog", bus.outboxBacklog ?? "unknown"],
  );
  byId("bus-counts").replaceChildren(...counts.flatMap(([name, value]) => [element("dt", name), element("dd", value)]));
}

function renderMail(mail) {
  const list = byId("mail-list").tBodies[0];
  if (!mail) {
    byId("mail-summary").textContent = "The mailer did not answer.";
    list.replaceChildren();
    return;
  }
  byId("mail-summary").textContent = `${mail.parked} waiting for a try, ${mail.dead} dead.`;
  list.replaceChildren(
    ...mail.oldest.map((queued) => {
      const retry = element("button", "Retry", "quiet");
      retry.type = "button";
      retry.addEventListener("click", async () => {
        retry.disabled = true;
        await api("POST", `/admin/mail/${queued.id}/retry`);
        poll();
      });
      return row([
        queued.id,
        element("td", queued.kind, "text"),
        element("td", queued.recipients.join(", "), "text"),
        element("td", queued.subject, "text"),
        queued.attempts,
        element("td", queued.lastError, "text"),
        element("td", queued.dead ? "dead" : time(queued.nextAttemptAt), queued.dead ? "bad" : ""),
        cell(retry),
      ]);
    }),
  );
}

// ---- Start -----------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  byId("email-form").addEventListener("submit", askForCode);
  byId("code-form").addEventListener("submit", signIn);
  byId("sign-out").addEventListener("click", signOut);
  byId("detail-close").addEventListener("click", closeDetail);
  poll();
});
