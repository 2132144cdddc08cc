// The web chat page: polls the conversation and posts clicks, forms and messages.
"use strict";
(function () {
  const box = document.getElementById("conversation");
  const composer = document.getElementById("composer");
  const csrf = box.dataset.csrf;
  let shown = "";

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text) node.textContent = text;
    return node;
  }

  async function post(body) {
    body.id = crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random());
    const response = await fetch("/chat/api/act", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    await refresh();
    return response.ok;
  }

  function askForm(message) {
    const ask = message.ask;
    const form = el("form", { class: "ask" });
    const id = "ask-" + message.id;
    form.append(el("label", { for: id }, ask.label));
    const area = el("textarea", { id: id, rows: "4", maxlength: String(ask.max), required: "" });
    area.value = ask.initial || "";
    form.append(area);
    if (ask.visibilities.length) {
      const set = el("fieldset");
      set.append(el("legend", {}, box.dataset.visibleTo));
      ask.visibilities.forEach((choice, i) => {
        const radioId = id + "-v" + i;
        const radio = el("input", { type: "radio", name: id + "-vis", id: radioId, value: choice.value });
        if (choice.value === ask.default) radio.checked = true;
        const label = el("label", { for: radioId }, " " + choice.label + " ");
        set.append(radio, label);
      });
      form.append(set);
    }
    form.append(el("button", { type: "submit" }, ask.submit));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const picked = form.querySelector("input[type=radio]:checked");
      post({ type: "submit", data: ask.data, text: area.value, message: message.id,
             visibility: picked ? picked.value : null });
    });
    return form;
  }

  function render(messages) {
    box.replaceChildren();
    if (!messages.length) box.append(el("p", { class: "context" }, box.dataset.empty));
    messages.forEach((message) => {
      const item = el("article", { class: "msg " + message.sender, "data-tag": message.tag || "" });
      if (message.title) item.append(el("h2", {}, message.title));
      item.append(el("div", { class: "text" }, message.text));
      (message.context || []).forEach((line) => item.append(el("p", { class: "context" }, line)));
      (message.rows || []).forEach((row) => {
        const holder = el("div", { class: "row" });
        row.forEach((button) => {
          const node = el("button", { type: "button", class: button.style || "" }, button.label);
          node.addEventListener("click", () => post({ type: "button", data: button.data, message: message.id }));
          holder.append(node);
        });
        item.append(holder);
      });
      if (message.ask) item.append(askForm(message));
      box.append(item);
    });
  }

  async function refresh() {
    const response = await fetch("/chat/api/messages", { credentials: "same-origin" });
    if (response.status === 401) { window.location.reload(); return; } // says what to do
    if (!response.ok) return;
    const data = await response.json();
    const fingerprint = JSON.stringify(data.messages.map((m) => [m.id, m.version]));
    if (fingerprint === shown) return;
    const typing = document.activeElement && document.activeElement.closest(".ask");
    if (typing && document.activeElement.value) return; // never wipe what someone is writing
    shown = fingerprint;
    render(data.messages);
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const area = document.getElementById("composer-text");
    const text = area.value.trim();
    if (!text) return;
    area.value = "";
    post({ type: "text", text: text });
  });
  refresh();
  setInterval(refresh, 2000);
})();
