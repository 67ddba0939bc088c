// Terrain: a form filled in the browser, as its preview or to enter a survey.
//
// The server decides everything about the form's logic: after each input this script sends
// the answers to `evaluate_url` and shows what the evaluation says (hidden questions,
// required marks, messages, calculated values, choices offered, repeat counts). The script
// only renders the form definition, collects the answers, and saves them in entry mode.
"use strict";

(() => {
  const data = JSON.parse(document.getElementById("fill-data").textContent);
  const root = document.getElementById("fill");
  const status = document.getElementById("fill-status");
  const csrf = root.dataset.csrf;
  const form = data.form;
  const lists = form.choice_lists || {};
  const say = (phrase) => data.texts[phrase] || phrase;
  let lang = data.lang || form.default_language || null;
  let surveyId = data.survey_id;
  let dirty = false;
  let sequence = 0;
  let timer = null;
  let byPath = new Map();

  // Question types without an input here: filled by the phone, or computed.
  const METADATA = new Set(["start", "end", "today", "deviceid", "username", "phonenumber", "email", "audit", "subscriberid", "simserial"]);
  const MEDIA = new Set(["image", "audio", "video", "file", "signature", "background_audio"]);

  const text = (translations, fallback) => {
    if (!translations) return fallback;
    return translations[lang] ?? translations[form.default_language] ?? Object.values(translations)[0] ?? fallback;
  };
  const idOf = (path) => "f-" + path.replace(/[^A-Za-z0-9_-]/g, "_");
  const el = (tag, attrs = {}, children = []) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) node.append(child);
    return node;
  };

  // --- rendering

  function renderLevel(nodes, container, prefix, values) {
    for (const node of nodes) {
      const path = prefix + node.name;
      if (node.node === "group") {
        const set = el("fieldset", { class: "group", "data-path": path }, [el("legend", { text: text(node.label, node.name) })]);
        renderLevel(node.children, set, prefix, values);
        container.append(set);
      } else if (node.node === "repeat") {
        container.append(renderRepeat(node, prefix, values[node.name] || []));
      } else {
        const question = renderQuestion(node, path, values[node.name]);
        if (question) container.append(question);
      }
    }
  }

  function renderRepeat(node, prefix, items) {
    const path = prefix + node.name;
    const instances = el("div", { class: "instances" });
    const set = el("fieldset", { class: "repeat", "data-path": path, "data-name": node.name }, [
      el("legend", { text: text(node.label, node.name) }),
      instances,
    ]);
    set.repeatNode = node;
    set.repeatPrefix = prefix;
    items.forEach((item) => addInstance(set, item));
    if (!node.repeat_count) {
      const add = el("button", { type: "button", class: "add", text: `${say("Add")} · ${text(node.label, node.name)}` });
      add.addEventListener("click", () => {
        addInstance(set, {});
        changed();
      });
      set.append(add);
    }
    return set;
  }

  function addInstance(set, item) {
    const node = set.repeatNode;
    const instances = set.querySelector(":scope > .instances");
    const index = instances.children.length;
    const prefix = `${set.repeatPrefix}${node.name}[${index}]/`;
    const section = el("section", { class: "instance level", "data-index": index }, [
      el("h4", { text: `${say("Instance")} ${index + 1}` }),
    ]);
    renderLevel(node.children, section, prefix, item);
    if (!node.repeat_count) {
      const remove = el("button", { type: "button", class: "link", text: say("Remove") });
      remove.addEventListener("click", () => {
        const answers = collect();
        const list = listAt(answers, set.repeatPrefix, node.name);
        list.splice(index, 1);
        rerender(answers);
        changed();
      });
      section.append(remove);
    }
    instances.append(section);
  }

  // The list of a repeat inside `answers`, found from its path prefix (`member[0]/`).
  function listAt(answers, prefix, name) {
    let level = answers;
    for (const part of prefix.split("/").filter(Boolean)) {
      const [, repeat, i] = part.match(/^(.*)\[(\d+)\]$/);
      level = level[repeat][Number(i)];
    }
    level[name] = level[name] || [];
    return level[name];
  }

  function renderQuestion(q, path, value) {
    const kind = q.type.kind;
    if (METADATA.has(kind)) return null;
    const id = idOf(path);
    const wrap = el("div", { class: "q", "data-path": path, "data-name": q.name, "data-kind": kind });
    const label = el("label", { for: id, text: text(q.label, q.name) });
    const required = el("span", { class: "req", text: ` * ${say("required")}`, hidden: true });
    label.append(required);
    const message = el("p", { class: "msg", id: `${id}-msg`, role: "alert" });
    const hint = q.hint ? el("p", { class: "hint", id: `${id}-hint`, text: text(q.hint, "") }) : null;
    const described = [hint ? `${id}-hint` : null, `${id}-msg`].filter(Boolean).join(" ");
    let input;
    if (kind === "note") {
      wrap.append(el("p", { class: "note", text: text(q.label, q.name) }), el("output", { id }));
      return wrap;
    }
    if (kind === "calculate") {
      wrap.append(el("span", { class: "name", text: q.name + " = " }), el("output", { id }));
      wrap.hidden = true;
      return wrap;
    }
    if (MEDIA.has(kind)) {
      wrap.append(label, el("p", { class: "muted", text: say("Not available in the browser.") }));
      return wrap;
    }
    const choices = lists[q.type.list] || [];
    if (kind === "select_one" || kind === "select_one_from_file") {
      input = el("select", { id, name: path, "aria-describedby": described }, [el("option", { value: "", text: say("Choose…") })]);
      for (const choice of choices) input.append(el("option", { value: choice.name, text: text(choice.label, choice.name) }));
      input.value = value ?? "";
    } else if (kind === "select_multiple" || kind === "rank" || kind === "select_multiple_from_file") {
      const chosen = new Set(Array.isArray(value) ? value : String(value ?? "").split(/\s+/).filter(Boolean));
      input = el("fieldset", { id, class: "choices", "aria-describedby": described }, [el("legend", { text: text(q.label, q.name) })]);
      choices.forEach((choice, i) => {
        const box = el("input", { type: "checkbox", id: `${id}-${i}`, value: choice.name, checked: chosen.has(choice.name) });
        input.append(el("label", { class: "choice", for: `${id}-${i}`, "data-code": choice.name }, [box, text(choice.label, choice.name)]));
      });
      wrap.append(input, required, hint || "", message);
      return wrap;
    } else if (kind === "acknowledge") {
      input = el("input", { type: "checkbox", id, checked: value === true || value === "OK", "aria-describedby": described });
    } else if (kind === "geotrace" || kind === "geoshape") {
      input = el("textarea", { id, rows: 2, placeholder: "lat lon; lat lon; …", "aria-describedby": described });
      input.value = Array.isArray(value) ? value.map((p) => `${p.lat} ${p.lon}`).join("; ") : value ?? "";
    } else {
      const types = { integer: "number", decimal: "number", range: "number", date: "date", time: "time", dateTime: "datetime-local" };
      input = el("input", { type: types[kind] || "text", id, "aria-describedby": described });
      if (kind === "integer") input.step = "1";
      if (kind === "decimal" || kind === "range") input.step = "any";
      if (kind === "geopoint") input.placeholder = "lat lon";
      if (kind === "geopoint" && value && typeof value === "object") input.value = `${value.lat} ${value.lon}`;
      else if (kind === "dateTime" && value) input.value = String(value).slice(0, 16);
      else input.value = value ?? "";
    }
    wrap.append(label, input, hint || "", message);
    return wrap;
  }

  function render(answers) {
    root.replaceChildren();
    root.classList.add("level");
    renderLevel(form.children, root, "", answers);
    byPath = new Map([...root.querySelectorAll("[data-path]")].map((node) => [node.dataset.path, node]));
  }

  function rerender(answers) {
    render(answers);
    evaluateSoon(0);
  }

  // --- collecting the answers

  function valueOf(wrap) {
    const kind = wrap.dataset.kind;
    const id = idOf(wrap.dataset.path);
    if (kind === "select_multiple" || kind === "rank" || kind === "select_multiple_from_file") {
      const codes = [...wrap.querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value);
      return codes.length ? codes : null;
    }
    const input = document.getElementById(id);
    if (!input || input.tagName === "OUTPUT") return null;
    if (kind === "acknowledge") return input.checked ? true : null;
    const raw = input.value.trim();
    if (raw === "") return null;
    if (kind === "dateTime") {
      // The browser gives local time without an offset; answers carry theirs.
      const offset = -new Date(raw).getTimezoneOffset();
      const sign = offset >= 0 ? "+" : "-";
      const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
      return `${raw.length === 16 ? raw + ":00" : raw}${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
    }
    return raw;
  }

  function collectLevel(level) {
    const answers = {};
    for (const wrap of level.querySelectorAll("div.q[data-name]")) {
      if (wrap.closest(".level") !== level || METADATA.has(wrap.dataset.kind)) continue;
      if (wrap.dataset.kind === "note" || wrap.dataset.kind === "calculate" || MEDIA.has(wrap.dataset.kind)) continue;
      const value = valueOf(wrap);
      if (value !== null) answers[wrap.dataset.name] = value;
    }
    for (const set of level.querySelectorAll("fieldset.repeat[data-name]")) {
      if (set.closest(".level") !== level) continue;
      answers[set.dataset.name] = [...set.querySelectorAll(":scope > .instances > section.level")].map(collectLevel);
    }
    return answers;
  }

  const collect = () => collectLevel(root);

  // --- showing the evaluation

  function apply(report) {
    // Repeats whose count the form fixes get exactly that many instances.
    let resized = false;
    for (const node of report.nodes) {
      const set = byPath.get(node.path);
      if (node.type !== "repeat" || !set || !set.repeatNode || !set.repeatNode.repeat_count || !node.relevant) continue;
      const have = set.querySelectorAll(":scope > .instances > section.level").length;
      if (have !== node.instances) {
        const answers = collect();
        const list = listAt(answers, set.repeatPrefix, set.repeatNode.name);
        list.length = Math.min(list.length, node.instances);
        while (list.length < node.instances) list.push({});
        render(answers);
        resized = true;
        break;
      }
    }
    if (resized) {
      evaluateSoon(0);
      return;
    }
    const seen = new Set();
    for (const node of report.nodes) {
      const target = byPath.get(node.path);
      if (!target) continue;
      seen.add(node.path);
      target.hidden = !node.relevant || (node.type === "calculate" && !node.value);
      if (node.type === "group" || node.type === "repeat") continue;
      const id = idOf(node.path);
      const required = target.querySelector(".req");
      if (required) required.hidden = !node.required;
      const message = document.getElementById(`${id}-msg`);
      const failed = node.constraint === "failed" || (node.required && node.message);
      if (message) message.textContent = failed ? node.message || "" : "";
      const input = document.getElementById(id);
      if (input && input.tagName === "OUTPUT") input.textContent = node.value || "";
      if (input && input.tagName !== "OUTPUT") {
        input.setAttribute("aria-invalid", failed ? "true" : "false");
        input.toggleAttribute("disabled", node.read_only);
        if (node.required) input.setAttribute("aria-required", "true");
        else input.removeAttribute("aria-required");
      }
      if (node.choices) offer(target, input, new Set(node.choices));
    }
    // Everything the evaluation did not walk is inside a hidden repeat.
    for (const [path, node] of byPath) if (!seen.has(path)) node.hidden = true;
    showStatus(report);
  }

  function offer(wrap, input, codes) {
    if (input && input.tagName === "SELECT") {
      for (const option of input.options) if (option.value) option.hidden = option.disabled = !codes.has(option.value) && option.value !== input.value;
    } else {
      for (const label of wrap.querySelectorAll("label.choice")) label.hidden = !codes.has(label.dataset.code) && !label.querySelector("input").checked;
    }
  }

  function showStatus(report) {
    if (report.finalizable) {
      status.replaceChildren(el("p", { class: "ok", text: say("Ready to finalize.") }));
      return;
    }
    const list = el("ul");
    for (const issue of report.blocking) list.append(el("li", { text: `${issue.path}: ${issue.message}` }));
    status.replaceChildren(el("p", { text: say("Not ready to finalize:") }), list);
  }

  // --- talking to the server

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    const json = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(json.message || response.statusText);
    return json;
  }

  function evaluateSoon(delay = 150) {
    clearTimeout(timer);
    timer = setTimeout(evaluate, delay);
  }

  async function evaluate() {
    const mine = ++sequence;
    try {
      const report = await post(data.evaluate_url, { answers: collect(), lang });
      // A slower answer to an earlier input must not overwrite a newer one.
      if (mine === sequence) apply(report);
    } catch (error) {
      if (mine === sequence) status.replaceChildren(el("p", { class: "error", text: `${say("Could not evaluate:")} ${error.message}` }));
    }
  }

  async function save(finalize) {
    try {
      const saved = await post(data.save_url, { survey_id: surveyId, answers: collect(), finalize });
      surveyId = saved.survey_id;
      dirty = false;
      if (saved.finalized) {
        window.location.assign(saved.url);
        return;
      }
      history.replaceState(null, "", saved.url);
      const lines = [el("p", { class: "ok", text: say("Saved as a draft.") })];
      if (saved.issues.length) {
        const list = el("ul");
        saved.issues.forEach((issue) => list.append(el("li", { text: issue })));
        lines.push(el("p", { text: say("Not ready to finalize:") }), list);
      }
      status.replaceChildren(...lines);
    } catch (error) {
      status.replaceChildren(el("p", { class: "error", text: `${say("Could not save:")} ${error.message}` }));
    }
  }

  function changed() {
    dirty = true;
    evaluateSoon();
  }

  root.addEventListener("input", changed);
  root.addEventListener("change", changed);
  root.addEventListener("submit", (event) => event.preventDefault());
  document.getElementById("fill-save")?.addEventListener("click", () => save(false));
  document.getElementById("fill-finalize")?.addEventListener("click", () => save(true));
  const chooser = document.getElementById("fill-lang");
  if (chooser) {
    if (lang) chooser.value = lang;
    chooser.addEventListener("change", () => {
      lang = chooser.value;
      rerender(collect());
    });
  }
  window.addEventListener("beforeunload", (event) => {
    if (data.mode === "entry" && dirty) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  render(data.answers || {});
  evaluateSoon(0);
})();
