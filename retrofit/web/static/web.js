// Messages next to fields (HTML5 validity) and live run status by polling; no inline script (CSP).
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-validate]")) {
    form.addEventListener("submit", (ev) => {
      let bad = null;
      for (const el of form.querySelectorAll("input,select,textarea")) {
        const id = "msg-" + el.id;
        let msg = document.getElementById(id);
        if (!el.checkValidity()) {
          if (!msg) { msg = document.createElement("p"); msg.id = id; msg.className = "error"; el.after(msg); el.setAttribute("aria-describedby", id); }
          msg.textContent = el.validationMessage; bad = bad || el;
        } else if (msg) { msg.textContent = ""; }
      }
      if (bad) { ev.preventDefault(); bad.focus(); }
    });
    form.noValidate = true;
  }
  const live = document.querySelector("[data-live]");
  if (live) {
    const tick = async () => {
      try {
        const r = await fetch(live.dataset.live, {credentials: "same-origin"});
        if (r.ok) {
          const v = await r.json();
          live.querySelector('[data-field="status"]').textContent = v.status;
          live.querySelector('[data-field="failure"]').textContent = v.failure || "";
          live.querySelector('[data-field="result"]').textContent = v.result == null ? "" : JSON.stringify(v.result, null, 2);
          live.querySelector('[data-field="progress"]').textContent = v.progress ? JSON.stringify(v.progress, null, 2) : "";
          if (v.status === "done" || v.status === "failed" || v.status.startsWith("stopped")) return;
        }
      } catch (e) { /* retry */ }
      setTimeout(tick, 2000);
    };
    setTimeout(tick, 2000);
  }
});
