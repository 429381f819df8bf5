// fraudstream dashboard: the only script. Charts are server-rendered SVG; this file just
// refreshes marked regions, submits filter forms on change and asks before risky actions.
(() => {
  "use strict";
  const prefix = document.body.dataset.prefix || "/dashboard";

  function setStatus(el, state, text) {
    if (!el) return;
    el.dataset.state = state;
    const label = el.querySelector(".text");
    if (label) label.textContent = text;
  }

  // Regions with data-refresh="<url>" are replaced by a fresh fragment every data-every s,
  // until the fragment contains [data-done]. Paused while the tab is hidden.
  function autoRefresh(region) {
    const every = Math.max(0.5, parseFloat(region.dataset.every || "2")) * 1000;
    const status = document.getElementById(region.dataset.status || "");
    let busy = false;
    let timer = null;
    async function tick() {
      if (busy || document.hidden) return;
      if (region.querySelector("[data-done]")) {
        clearInterval(timer);
        return;
      }
      busy = true;
      try {
        const response = await fetch(region.dataset.refresh, {
          headers: { "X-Fraudstream-Fetch": "1" },
          credentials: "same-origin",
          cache: "no-store",
        });
        if (response.status === 401) {
          const here = location.pathname + location.search;
          location.href = prefix + "/login?next=" + encodeURIComponent(here);
          return;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        region.innerHTML = await response.text();
        region.dispatchEvent(new CustomEvent("refreshed", { bubbles: true }));
        setStatus(status, "live", "live · updated " + new Date().toLocaleTimeString());
      } catch (error) {
        setStatus(status, "error", "update failed, retrying");
      } finally {
        busy = false;
      }
    }
    timer = setInterval(tick, every);
    document.addEventListener("visibilitychange", tick);
  }

  document.querySelectorAll("[data-refresh]").forEach(autoRefresh);

  // Filter forms apply as soon as a value changes.
  document.querySelectorAll("form[data-autosubmit]").forEach((form) => {
    form.addEventListener("change", () => form.requestSubmit());
  });

  // Forms that change what every scorer does ask first.
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  // A second click on a submit button while its form is being sent does nothing.
  document.addEventListener("submit", (event) => {
    if (event.defaultPrevented) return;
    const form = event.target;
    setTimeout(() => form.querySelectorAll("button[type=submit]").forEach((b) => (b.disabled = true)), 0);
  });
})();
