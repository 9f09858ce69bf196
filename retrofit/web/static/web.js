// Messages next to fields (HTML5 validity) and live run status by polling; no inline script (CSP).
const ended = (s) => s === "done" || s === "failed" || s.startsWith("stopped");
const progressText = (p) => p ? `Agent: turn ${p.step} of ${p.max_steps}, ${p.tokens} of ${p.max_tokens} tokens, $${p.cost_usd.toFixed(4)} of $${p.max_cost_usd.toFixed(2)}` + (p.waiting_for ? ` · ${p.waiting_for}` : "") + (p.scripted ? " · scripted model" : "") : "";
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-validate]")) {
    form.addEventListener("submit", (ev) => {
      let bad = null;
      for (const el of form.querySelectorAll("input,select,textarea")) {
        const id = "msg-" + el.id;
        let msg = document.getElementById(id);
        if (!el.checkValidity()) {
          if (!msg) { msg = document.createElement("p"); msg.id = id; msg.className = "error"; el.after(msg); el.setAttribute("aria-describedby", id); }
          el.setAttribute("aria-invalid", "true");
          msg.textContent = el.validationMessage; bad = bad || el;
        } else if (msg) { msg.textContent = ""; el.removeAttribute("aria-invalid"); }
      }
      if (bad) { ev.preventDefault(); bad.focus(); }
    });
    form.noValidate = true;
  }
  const live = document.querySelector("[data-live]");
  if (live && !ended(live.dataset.status)) {
    const tick = async () => {
      try {
        const r = await fetch(live.dataset.live, {credentials: "same-origin"});
        if (r.ok) {
          const v = await r.json();
          live.querySelector('[data-field="status"]').textContent = v.status;
          live.querySelector('[data-field="failure"]').textContent = v.failure || "";
          live.querySelector('[data-field="result"]').textContent = v.result == null ? "" : JSON.stringify(v.result, null, 2);
          live.querySelector('[data-field="progress"]').textContent = progressText(v.progress);
          // Ended: load the page once more, so the result is shown from the server's rendering.
          if (ended(v.status)) { location.reload(); return; }
        }
      } catch (e) { /* retry */ }
      setTimeout(tick, 1500);
    };
    setTimeout(tick, 1500);
  }
});
