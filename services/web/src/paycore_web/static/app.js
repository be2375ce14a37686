// paycore web pages: small progressive enhancements. Every page works without this script.
"use strict";

// Checks `url` every `everyMs` until `onAnswer` returns false, at most `maxTicks` times (then
// `onGiveUp`): a page left open does not ask the API forever.
function poll(url, everyMs, onAnswer, maxTicks = 150, onGiveUp = () => {}) {
  let count = 0;
  async function tick() {
    count += 1;
    if (count > maxTicks) { onGiveUp(); return; }
    try {
      const response = await fetch(url + (url.includes("?") ? "&" : "?") + (count % 5 === 0 ? "verify=1" : ""),
        { headers: { accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
      if (response.ok && onAnswer(await response.json()) === false) return;
    } catch (error) { /* the network blinked: try again on the next tick */ }
    window.setTimeout(tick, everyMs);
  }
  window.setTimeout(tick, everyMs);
}

document.addEventListener("DOMContentLoaded", () => {
  // Console sign-in link: the token travels in the fragment (never sent to a server or logged).
  const token = document.querySelector("#sign-in textarea[name=token]");
  if (token && window.location.hash.startsWith("#token=")) {
    token.value = decodeURIComponent(window.location.hash.slice(7));
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }

  // Return page, pending: check until the payment settles, then show the result.
  const pending = document.getElementById("pending");
  if (pending) {
    poll(pending.dataset.poll, 2000, (answer) => {
      if (answer.state && answer.state !== "pending") { window.location.reload(); return false; }
      return true;
    }, 150, () => {
      pending.textContent = "Still no answer from your bank after five minutes. Use Check now, " +
        "or come back to this page later; you do not need to pay again.";
    });
  }

  // Console: follow each refund still in flight until it is final, then refresh the figures.
  document.querySelectorAll("[data-follow]").forEach((badge) => {
    poll(badge.dataset.follow, 1000, (answer) => {
      badge.textContent = String(answer.status || "").replace(/_/g, " ").toLowerCase();
      badge.className = "badge badge-" + String(answer.status || "").toLowerCase();
      if (answer.final) { window.location.reload(); return false; }
      return true;
    });
  });

  // New invoice: more item rows on demand.
  const add = document.getElementById("add-item");
  const items = document.getElementById("items");
  if (add && items) {
    add.hidden = false;
    add.addEventListener("click", () => {
      const rows = items.querySelectorAll(".item-row");
      const copy = rows[rows.length - 1].cloneNode(true);
      const n = rows.length + 1;
      copy.querySelectorAll("input").forEach((input) => {
        const base = input.name;
        input.id = base + "_" + n;
        input.value = base === "item_quantity" ? "1" : "";
      });
      copy.querySelectorAll("label").forEach((label) => {
        const input = label.nextElementSibling;
        label.htmlFor = input.id;
        if (input.name === "item_description") label.textContent = "Description " + n;
      });
      items.appendChild(copy);
      copy.querySelector("input").focus();
    });
  }

  // Copy buttons.
  document.querySelectorAll("[data-copy]").forEach((button) => {
    const field = document.getElementById(button.dataset.copy);
    if (!field || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(field.value);
      button.textContent = "Copied";
    });
  });

  // Errors after a submit: move focus there so screen readers announce them.
  const errors = document.getElementById("errors");
  if (errors) errors.focus();

  // Production checkout: Cashfree's JS SDK with the payment session id.
  const checkout = document.getElementById("checkout");
  if (checkout && typeof window.Cashfree === "function") {
    const cashfree = window.Cashfree({ mode: checkout.dataset.mode });
    cashfree.checkout({ paymentSessionId: checkout.dataset.session, redirectTarget: "_self" });
  }
});
