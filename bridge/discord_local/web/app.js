// The local Discord's web client. Reads views from /_web, acts through the control API
// (/_control, the same operations tests and scripts use), and follows the server's
// event stream (/_web/events); it never polls. No build step, no network beyond this server.
"use strict";

const S = {
  state: null, viewer: null, channelId: null,
  users: new Map(), channels: new Map(), messages: new Map(),
  commands: [], feed: null, files: [], pickerIndex: 0,
};
const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "html") node.innerHTML = value;  // server-rendered, escaped Markdown
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function toast(text) {
  const box = $("#toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const reason = (data && data.message) || response.statusText;
    toast(`${method} ${path}: ${response.status} ${reason}`);
    throw new Error(reason);
  }
  return data;
}

// ------------------------------------------------------------------ loading

async function loadState() {
  const state = await api("GET", "/_web/state");
  S.state = state;
  $("#guild-name").textContent = state.guild_name;
  S.users = new Map(state.users.map((u) => [u.id, u]));
  S.channels = new Map(state.channels.map((c) => [c.id, c]));
  S.commands = flattenCommands(state.commands);
  if (!S.viewer || !S.users.has(S.viewer)) S.viewer = state.owner_id;
  if (!S.channelId || !S.channels.has(S.channelId)) {
    S.channelId = (location.hash.slice(1) && S.channels.has(location.hash.slice(1)))
      ? location.hash.slice(1) : state.default_channel_id;
  }
  renderUsers();
  renderChannels();
}

async function loadMessages() {
  // Events that arrive while the snapshot loads are held, then those newer than the
  // snapshot (by the server's change counter, seq) are applied on top of it.
  S.loading = (S.loading || 0) + 1;
  let snapshot;
  try {
    snapshot = await api("GET", `/_web/channels/${S.channelId}/messages?viewer=${S.viewer}`);
  } finally {
    S.loading -= 1;
  }
  S.messages = new Map(snapshot.messages.map((m) => [m.id, m]));
  const held = S.held || [];
  S.held = [];
  for (const [apply, data] of held) if (data.seq > snapshot.seq) apply(data, false);
  renderHeader();
  renderMessages();
}

function whenLoaded(apply) {
  return (data) => {
    if (S.loading) (S.held = S.held || []).push([apply, data]);
    else apply(data, true);
  };
}

async function reload() {
  await loadState();
  await loadMessages();
}

// ------------------------------------------------------------------ the feed

function connectFeed() {
  if (S.feed) S.feed.close();
  const feed = new EventSource(`/_web/events?viewer=${S.viewer}`);
  S.feed = feed;
  const status = $("#feed-status");
  // Every (re)connection starts with "hello": reload, since changes may have been missed
  // while the server was away (a restart keeps the world; the page catches up).
  feed.addEventListener("hello", () => {
    status.textContent = "live";
    status.className = "online";
    reload().catch(() => {});
  });
  feed.addEventListener("error", () => {
    status.textContent = "reconnecting…";
    status.className = "offline";
  });
  const on = (name, fn) => feed.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  on("message", whenLoaded(onMessage));
  on("delete", whenLoaded((d, render) => {
    if (S.messages.delete(d.id) && render) renderMessages();
  }));
  on("channel", (c) => {
    S.channels.set(c.id, c);
    renderChannels();
    if (c.id === S.channelId) renderHeader();
  });
  on("user", (u) => { S.users.set(u.id, u); renderUsers(); });
  on("modal", (d) => openModal(d.interaction_id, d.modal));
  on("commands", (d) => { S.commands = flattenCommands(d.commands); renderPicker(); });
  on("typing", (d) => {
    if (d.channel_id !== S.channelId) return;
    const who = S.users.get(d.user_id);
    $("#typing").textContent = `${who ? who.display_name : "someone"} is typing…`;
    clearTimeout(onMessage.typingTimer);
    // Discord shows typing for about 10 s after TYPING_START.
    onMessage.typingTimer = setTimeout(() => { $("#typing").textContent = ""; }, 10000);
  });
}

function onMessage(m, render) {
  // A thread's starter message lives in the parent channel but is shown atop the thread.
  const starter = m.id === S.channelId && m.thread_id === S.channelId;
  if (m.channel_id !== S.channelId && !starter) return;
  const fresh = !S.messages.has(m.id);
  S.messages.set(m.id, m);
  if (fresh && S.state && m.author.id === S.state.bot_id) $("#typing").textContent = "";
  if (render) renderMessages();
}

// ------------------------------------------------------------------ sidebar

function renderUsers() {
  const select = $("#viewer");
  select.replaceChildren(...[...S.users.values()].filter((u) => !u.bot).map((u) =>
    el("option", { value: u.id, selected: u.id === S.viewer },
      u.id === S.state.owner_id ? `${u.display_name} (owner)` : u.display_name)));
}

function renderChannels() {
  const all = [...S.channels.values()];
  const box = $("#channels");
  box.replaceChildren();
  for (const c of all.filter((c) => !c.parent_id)) {
    box.append(channelItem(c, "channel"));
    const threads = all.filter((t) => t.parent_id === c.id).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? 1 : -1));
    for (const t of threads) box.append(channelItem(t, "thread"));
  }
}

function channelItem(c, kind) {
  const classes = [kind, c.id === S.channelId ? "selected" : "", c.archived ? "archived" : ""];
  return el("div", {
    class: classes.join(" ").trim(), "data-id": c.id, title: c.name,
    onclick: () => selectChannel(c.id),
  }, c.name);
}

function selectChannel(id) {
  S.channelId = id;
  history.replaceState(null, "", `#${id}`);
  closeCommand();
  renderChannels();
  loadMessages().catch(() => {});
}

function renderHeader() {
  const c = S.channels.get(S.channelId);
  $("#channel-title").textContent = c ? c.name : "";
  $("#channel-topic").textContent = c && c.topic ? c.topic : "";
  $("#pins-toggle").textContent = `📌 Pinned (${c ? c.pins.length : 0})`;
  renderPins();
}

function renderPins() {
  const c = S.channels.get(S.channelId);
  const box = $("#pins");
  box.replaceChildren(el("div", { class: "empty" }, "Pinned messages"));
  for (const id of c ? c.pins : []) {
    const m = S.messages.get(id);
    if (m) box.append(renderMessage(m));
  }
}

// ------------------------------------------------------------------ messages

function renderMessages() {
  const box = $("#messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const list = [...S.messages.values()].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  box.replaceChildren(...(list.length ? list.map(renderMessage)
    : [el("div", { class: "empty" }, "No messages yet. Say something!")]));
  renderPins();
  formatTimestamps(box);
  formatTimestamps($("#pins"));
  if (atBottom) box.scrollTop = box.scrollHeight;
}

// Discord's <t:unix:style> markup, shown in the reader's time zone as Discord does.
function formatTimestamps(root) {
  for (const span of root.querySelectorAll(".timestamp[data-unix]")) {
    const when = new Date(Number(span.dataset.unix) * 1000);
    const style = span.dataset.style;
    let text;
    if (style === "R") {
      const seconds = Math.round((when - Date.now()) / 1000);
      const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
      const [unit, size] = units.find(([, s]) => Math.abs(seconds) >= s) || ["second", 1];
      text = new Intl.RelativeTimeFormat([], { numeric: "auto" }).format(Math.round(seconds / size), unit);
    } else {
      const options = {
        t: { timeStyle: "short" }, T: { timeStyle: "medium" }, d: { dateStyle: "short" },
        D: { dateStyle: "long" }, f: { dateStyle: "long", timeStyle: "short" },
        F: { dateStyle: "full", timeStyle: "short" },
      }[style] || { dateStyle: "long", timeStyle: "short" };
      text = when.toLocaleString([], options);
    }
    span.title = when.toLocaleString();
    span.textContent = text;
  }
}

function time(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function renderMessage(m) {
  const name = m.author_name || m.author.global_name || m.author.username;
  const classes = ["message", m.ephemeral ? "ephemeral" : "", m.pinned ? "pinned" : ""];
  let replyTo = null;
  if (m.message_reference && m.type === 19) {
    const ref = S.messages.get(m.message_reference.message_id);
    replyTo = el("div", { class: "reply-to" },
      `↪ replying to ${ref ? ref.author_name : "a message"}`);
  }
  return el("article", { class: classes.join(" ").trim(), "data-id": m.id },
    el("div", { class: "avatar" }, name.slice(0, 1).toUpperCase()),
    replyTo,
    el("div", { class: "head" },
      el("span", { class: "author" }, name),
      m.author.bot ? el("span", { class: "bot-tag" }, "APP") : null,
      el("span", { class: "time", title: m.timestamp }, time(m.timestamp)),
      m.edited_timestamp ? el("span", { class: "edited", title: m.edited_timestamp }, "(edited)") : null),
    m.loading ? el("div", { class: "content" }, `${name} is thinking…`) : null,
    m.html ? el("div", { class: "content", html: m.html }) : null,
    m.embeds.length ? el("div", { class: "embeds" }, m.embeds.map(renderEmbed)) : null,
    m.attachments.length ? el("div", { class: "attachments" }, m.attachments.map(renderAttachment)) : null,
    m.components.length ? el("div", { class: "components" }, m.components.map((row) => renderRow(m, row))) : null,
    Object.keys(m.reaction_users).length ? renderReactions(m) : null,
    m.thread_id && m.thread_id !== S.channelId && S.channels.has(m.thread_id) ? el("div", {
      class: "thread-link", onclick: () => selectChannel(m.thread_id),
    }, `🧵 ${S.channels.get(m.thread_id).name} →`) : null,
    m.ephemeral ? el("div", { class: "ephemeral-note" }, "👁 Only you can see this") : null);
}

function renderEmbed(e) {
  const color = typeof e.color === "number" ? `#${e.color.toString(16).padStart(6, "0")}` : null;
  const title = e.title ? (e.url
    ? el("a", { class: "embed-title", href: e.url, target: "_blank", rel: "noopener" }, e.title)
    : el("div", { class: "embed-title" }, e.title)) : null;
  return el("div", { class: "embed", style: color ? `border-left-color:${color}` : null },
    e.author && e.author.name ? el("div", { class: "embed-author" }, e.author.name) : null,
    title,
    e.description ? el("div", { class: "embed-description content", html: e.description_html }) : null,
    e.fields.length ? el("div", { class: "fields" }, e.fields.map((f) =>
      el("div", { class: f.inline ? "field inline" : "field" },
        el("div", { class: "field-name" }, f.name),
        el("div", { class: "field-value content", html: f.value_html })))) : null,
    e.image && e.image.url ? el("img", { src: e.image.url, alt: "" }) : null,
    e.footer && e.footer.text ? el("div", { class: "embed-footer" },
      e.footer.text + (e.timestamp ? ` • ${time(e.timestamp)}` : "")) : null);
}

function renderAttachment(a) {
  if ((a.content_type || "").startsWith("image/")) {
    return el("a", { href: a.url, target: "_blank" }, el("img", { src: a.url, alt: a.filename }));
  }
  return el("a", { class: "file", href: a.url, download: a.filename },
    `📄 ${a.filename} (${a.size} bytes)`);
}

function renderRow(m, row) {
  return el("div", { class: "row" }, (row.components || []).map((c) => {
    if (c.type === 2) {
      const label = `${c.emoji && c.emoji.name ? c.emoji.name + " " : ""}${c.label || ""}`;
      if (c.style === 5) {
        return el("a", { href: c.url, target: "_blank", rel: "noopener" },
          el("button", { type: "button", class: "style-5", disabled: c.disabled }, `${label} ↗`));
      }
      return el("button", {
        type: "button", class: `style-${c.style}`, disabled: c.disabled, "data-custom-id": c.custom_id,
        onclick: () => act("/_control/interactions/button",
          { user_id: S.viewer, message_id: m.id, custom_id: c.custom_id }),
      }, label);
    }
    if (c.type === 3) return renderSelect(m, c);
    return el("span", {}, `[component type ${c.type}]`);
  }));
}

function renderSelect(m, c) {
  const multiple = (c.max_values || 1) > 1;
  const select = el("select", { "data-custom-id": c.custom_id, multiple, disabled: c.disabled },
    multiple ? null : el("option", { value: "", selected: true, disabled: true }, c.placeholder || "Make a selection"),
    (c.options || []).map((o) => el("option", { value: o.value, title: o.description || "" },
      `${o.emoji && o.emoji.name ? o.emoji.name + " " : ""}${o.label}`)));
  const choose = () => act("/_control/interactions/select", {
    user_id: S.viewer, message_id: m.id, custom_id: c.custom_id,
    values: [...select.selectedOptions].map((o) => o.value),
  });
  if (!multiple) {
    select.addEventListener("change", choose);
    return select;
  }
  return el("span", {}, select, el("button", { type: "button", class: "style-1", onclick: choose }, "Choose"));
}

function renderReactions(m) {
  return el("div", { class: "reactions" }, Object.entries(m.reaction_users).map(([emoji, users]) => {
    const mine = users.includes(S.viewer);
    return el("button", {
      type: "button", class: mine ? "reaction mine" : "reaction", title: users.map((u) => {
        const who = S.users.get(u);
        return who ? who.display_name : u;
      }).join(", "),
      onclick: () => act(`/_control/messages/${m.id}/reactions`,
        { user_id: S.viewer, emoji, remove: mine }),
    }, `${emoji.split(":")[0]} ${users.length}`);
  }));
}

async function act(path, body) {
  try {
    return await api("POST", path, body);
  } catch (_) {
    return null;  // already shown in the toast
  }
}

// ------------------------------------------------------------------ modals

function modalInputs(modal) {
  const out = [];
  for (const top of modal.components || []) {
    const inner = top.component || (top.components || [])[0];
    if (!inner) continue;
    out.push({ label: top.label || inner.label || inner.custom_id, input: inner });
  }
  return out;
}

function openModal(interactionId, modal) {
  const form = $("#modal-form");
  const fields = modalInputs(modal);
  form.replaceChildren(...[
    el("h2", {}, modal.title || "Form"),
    fields.map(({ label, input }) => {
      const attrs = {
        name: input.custom_id, placeholder: input.placeholder, required: input.required !== false,
        minlength: input.min_length, maxlength: input.max_length,
      };
      // A select in a modal (type 3 inside a Label): one pick, sent as its value.
      const box = input.type === 3
        ? el("select", { name: input.custom_id, required: (input.min_values ?? 1) > 0 },
          [el("option", { value: "" }, "—"),
            ...(input.options || []).map((o) => el("option", { value: o.value }, o.label))])
        : input.style === 2 ? el("textarea", { ...attrs, rows: 4 }, input.value || "")
          : el("input", { ...attrs, value: input.value || "" });
      return [el("label", {}, label), box];
    }),
    el("div", { style: "display:flex;gap:8px;justify-content:flex-end;margin-top:12px" },
      el("button", { type: "button", onclick: () => $("#modal").close() }, "Cancel"),
      el("button", { type: "submit", value: "submit" }, "Submit"))].flat(Infinity));
  form.onsubmit = (event) => {
    event.preventDefault();
    const values = {};
    for (const { input } of fields) values[input.custom_id] = form.elements[input.custom_id].value;
    $("#modal").close();
    act("/_control/interactions/modal", { interaction_id: interactionId, values, user_id: S.viewer });
  };
  $("#modal").showModal();
}

// ------------------------------------------------------------------ slash commands

function flattenCommands(commands) {
  const out = [];
  for (const c of commands) {
    if ((c.type || 1) !== 1) continue;
    const subs = (c.options || []).filter((o) => o.type === 1 || o.type === 2);
    if (!subs.length) {
      out.push({ label: c.name, name: c.name, path: [], options: c.options || [], description: c.description });
      continue;
    }
    for (const s of subs) {
      if (s.type === 1) {
        out.push({ label: `${c.name} ${s.name}`, name: c.name, path: [s.name], options: s.options || [], description: s.description });
      } else {
        for (const t of s.options || []) {
          out.push({ label: `${c.name} ${s.name} ${t.name}`, name: c.name, path: [s.name, t.name], options: t.options || [], description: t.description });
        }
      }
    }
  }
  return out.sort((a, b) => a.label.localeCompare(b.label));
}

function renderPicker() {
  const text = $("#input").value;
  const picker = $("#command-picker");
  if (!text.startsWith("/") || text.includes("\n") || !$("#command-form").hidden) {
    picker.hidden = true;
    return;
  }
  const typed = text.slice(1).trim().toLowerCase();
  const found = S.commands.filter((c) => c.label.startsWith(typed));
  S.pickerIndex = Math.min(S.pickerIndex, Math.max(found.length - 1, 0));
  picker.replaceChildren(...(found.length ? found.map((c, i) => el("div", {
    class: i === S.pickerIndex ? "command-choice active" : "command-choice", "data-command": c.label,
    onclick: () => openCommand(c),
  }, `/${c.label}`, el("span", { class: "desc" }, c.description || ""))) : [el("div", { class: "empty" }, "No matching command")]));
  picker.hidden = false;
  picker.found = found;
}

function optionInput(option, command) {
  const id = `opt-${option.name}`;
  if (option.type === 5) {
    return el("select", { id, name: option.name },
      el("option", { value: "" }, "—"), el("option", { value: "true" }, "True"), el("option", { value: "false" }, "False"));
  }
  if (option.choices && option.choices.length) {
    return el("select", { id, name: option.name }, el("option", { value: "" }, "—"),
      option.choices.map((ch) => el("option", { value: String(ch.value) }, ch.name)));
  }
  if (option.type === 6) {
    return el("select", { id, name: option.name }, el("option", { value: "" }, "—"),
      [...S.users.values()].map((u) => el("option", { value: u.id }, u.display_name)));
  }
  if (option.type === 7) {
    return el("select", { id, name: option.name }, el("option", { value: "" }, "—"),
      [...S.channels.values()].map((c) => el("option", { value: c.id }, `#${c.name}`)));
  }
  const numeric = option.type === 4 || option.type === 10;
  const input = el("input", {
    id, name: option.name, type: numeric ? "number" : "text", step: option.type === 10 ? "any" : null,
    min: option.min_value, max: option.max_value, minlength: option.min_length,
    maxlength: option.max_length, autocomplete: "off", list: option.autocomplete ? `${id}-choices` : null,
  });
  if (!option.autocomplete) return input;
  const list = el("datalist", { id: `${id}-choices` });
  let pending = null;
  // Autocomplete asks the bot as the user types (Discord sends an interaction per keystroke
  // burst); a short debounce keeps one request per pause, not a timer that polls.
  input.addEventListener("input", () => {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      const options = commandOptions(command, option.name);
      const result = await act("/_control/interactions/autocomplete", {
        user_id: S.viewer, channel_id: S.channelId, name: command.name, options,
      });
      const choices = (result && result.choices) || [];
      list.replaceChildren(...choices.map((ch) => el("option", { value: String(ch.value) }, ch.name)));
    }, 250);
  });
  return [input, list];
}

function commandOptions(command, focused) {
  const form = $("#command-form");
  const values = [];
  for (const option of command.options) {
    const field = form.elements[option.name];
    if (!field) continue;
    const raw = field.value;
    if (raw === "" && option.name !== focused) continue;
    let value = raw;
    if (option.name !== focused) {
      if (option.type === 4) value = parseInt(raw, 10);
      else if (option.type === 10) value = parseFloat(raw);
      else if (option.type === 5) value = raw === "true";
    }
    const entry = { name: option.name, type: option.type, value };
    if (option.name === focused) entry.focused = true;
    values.push(entry);
  }
  let nested = values;
  for (const [depth, name] of [...command.path].reverse().entries()) {
    nested = [{ name, type: depth === 0 ? 1 : 2, options: nested }];
  }
  return nested;
}

function openCommand(command) {
  $("#command-picker").hidden = true;
  const form = $("#command-form");
  form.command = command;
  form.replaceChildren(...[
    el("div", {}, el("strong", {}, `/${command.label}`), el("span", { class: "desc" }, ` ${command.description || ""}`)),
    command.options.map((o) => el("label", {},
      `${o.name}${o.required ? " *" : ""} — ${o.description || ""}`, optionInput(o, command))),
    el("div", { style: "display:flex;gap:8px;margin-top:6px" },
      el("button", { type: "submit", id: "run-command" }, "Run"),
      el("button", { type: "button", onclick: closeCommand }, "Cancel"))].flat(Infinity));
  form.hidden = false;
  const first = form.querySelector("input, select");
  if (first) first.focus();
}

function closeCommand() {
  $("#command-form").hidden = true;
  $("#command-picker").hidden = true;
}

async function runCommand(event) {
  event.preventDefault();
  const command = $("#command-form").command;
  const missing = command.options.filter((o) => o.required && !$("#command-form").elements[o.name].value);
  if (missing.length) {
    toast(`Fill in: ${missing.map((o) => o.name).join(", ")}`);
    return;
  }
  const options = commandOptions(command, null);
  const body = { user_id: S.viewer, channel_id: S.channelId, name: command.name };
  if (options.length) body.options = options;
  closeCommand();
  $("#input").value = "";
  await act("/_control/interactions/command", body);
}

// ------------------------------------------------------------------ composing

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result.split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function send(event) {
  event.preventDefault();
  const input = $("#input");
  const content = input.value;
  if (content.startsWith("/") && !$("#command-picker").hidden) {
    const found = $("#command-picker").found || [];
    if (found.length) openCommand(found[S.pickerIndex]);
    return;
  }
  if (!content.trim() && !S.files.length) return;
  const attachments = await Promise.all(S.files.map(async (f) => ({
    filename: f.name, content_type: f.type || "application/octet-stream", base64: await readFile(f),
  })));
  const body = { author_id: S.viewer, content };
  if (attachments.length) body.attachments = attachments;
  const posted = await act(`/_control/channels/${S.channelId}/messages`, body);
  if (posted) {
    input.value = "";
    S.files = [];
    $("#file").value = "";
    $("#file-list").textContent = "";
  }
}

function setup() {
  $("#composer").addEventListener("submit", send);
  $("#command-form").addEventListener("submit", runCommand);
  const input = $("#input");
  input.addEventListener("input", () => { S.pickerIndex = 0; renderPicker(); });
  input.addEventListener("keydown", (event) => {
    const picker = $("#command-picker");
    if (!picker.hidden && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      S.pickerIndex = Math.max(0, S.pickerIndex + (event.key === "ArrowDown" ? 1 : -1));
      renderPicker();
    } else if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("#composer").requestSubmit();
    } else if (event.key === "Escape") {
      closeCommand();
    }
  });
  $("#file").addEventListener("change", (event) => {
    S.files = [...event.target.files];
    $("#file-list").textContent = S.files.map((f) => `📎 ${f.name}`).join("  ");
  });
  $("#viewer").addEventListener("change", (event) => {
    S.viewer = event.target.value;
    connectFeed();  // its "hello" reloads what this user sees
  });
  $("#new-user").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("#new-user-name").value.trim();
    if (!name) return;
    const user = await act("/_control/users", { username: name });
    if (user) {
      $("#new-user-name").value = "";
      S.users.set(user.id, { ...user, display_name: user.global_name || user.username });
      S.viewer = user.id;
      renderUsers();
      connectFeed();
    }
  });
  $("#pins-toggle").addEventListener("click", () => { $("#pins").hidden = !$("#pins").hidden; });
  $("#messages").addEventListener("click", (event) => {
    const spoiler = event.target.closest(".spoiler");
    if (spoiler) spoiler.classList.add("revealed");
  });
  // The feed is per viewer (ephemeral messages and modals are someone's own): learn who
  // the owner is before subscribing.
  loadState().then(connectFeed, () => connectFeed());
}

document.addEventListener("DOMContentLoaded", setup);
