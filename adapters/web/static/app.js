// hotloop dashboard — plain JavaScript, no build step, no third-party code (the Teams tab alone loads
// vendor/MicrosoftTeams-*.min.js); loaded with `defer`.
// Pages work without it (every action is a plain HTML form); it only adds comfort.
(function () {
  "use strict";

  const hotloop = (window.hotloop = window.hotloop || {});

  // Ask before forms marked data-confirm="…" are sent (e.g. resolve); no inline handlers (CSP).
  function confirmForms(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      });
    });
  }

  // Disable a form's buttons once sent, so a double click does not act twice.
  function singleSubmit(root) {
    root.querySelectorAll("form[method='post'], form[method='POST']").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (event.defaultPrevented) return;
        form.querySelectorAll("button[type='submit']").forEach(function (button) {
          window.setTimeout(function () { button.disabled = true; }, 0);
        });
      });
    });
  }

  // Live updates (server-sent events): elements with data-sse="<url>" are wired by `hotloop.live`,
  // which the queue/alert pages' code (H5) defines below or in this file. Left as a hook here.
  function liveRegions(root) {
    if (typeof hotloop.live !== "function") return;
    root.querySelectorAll("[data-sse]").forEach(function (element) {
      hotloop.live(element, element.getAttribute("data-sse"));
    });
  }

  hotloop.init = function (root) {
    confirmForms(root);
    singleSubmit(root);
    liveRegions(root);
  };

  document.addEventListener("DOMContentLoaded", function () {
    hotloop.init(document);
  });
})();

// ---- live updates (H5): one EventSource per page on /app/events?after=<the newest event when the page was
// rendered> (a change made while the page loaded is replayed first); each `alert` event refreshes what it
// changed by fetching an HTML fragment and swapping it in (the alert page's sections, the queue's rows).
// When the fragment cannot be fetched, or the reader is typing in the alert's forms, a banner offers a
// reload instead of replacing their text.
(function () {
  "use strict";

  const hotloop = (window.hotloop = window.hotloop || {});
  const regions = [];
  let source = null;

  function banner() {
    const element = document.getElementById("live-banner");
    if (element) element.hidden = false;
  }

  function busy(region) {
    const active = document.activeElement;
    if (active && region.contains(active) && active.matches("input, textarea, select")) return true;
    return Array.prototype.some.call(region.querySelectorAll("textarea, input[type='text']"), function (field) {
      return field.value !== field.defaultValue;
    });
  }

  function fetchFragment(url) {
    return window.fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("fragment " + response.status);
        return response.text();
      });
  }

  function parse(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  function refreshAlert(region, change) {
    const shown = region.querySelector("[data-version]");
    if (shown && shown.getAttribute("data-version") === String(change.version)) return;
    if (busy(region)) { banner(); return; }
    fetchFragment(region.getAttribute("data-fragment")).then(function (html) {
      region.replaceChildren(parse(html));
      if (typeof hotloop.init === "function") hotloop.init(region);
    }).catch(banner);
  }

  function refreshQueue(region) {
    if (region.dataset.pending) return;
    region.dataset.pending = "1";
    window.setTimeout(function () {
      delete region.dataset.pending;
      fetchFragment(region.getAttribute("data-fragment")).then(function (html) {
        const rows = parse(html).querySelector("tbody");
        const old = region.querySelector("tbody");
        if (rows && old) old.replaceWith(rows); else banner();
      }).catch(banner);
    }, 500);  // a burst of changes costs one fetch
  }

  function onAlert(event) {
    let change;
    try { change = JSON.parse(event.data); } catch (e) { return; }
    regions.forEach(function (region) {
      const key = region.getAttribute("data-key");
      if (key) {
        if (key === change.key) refreshAlert(region, change);
      } else {
        refreshQueue(region);
      }
    });
  }

  hotloop.live = function (element, url) {
    if (regions.indexOf(element) === -1) regions.push(element);
    if (source || typeof window.EventSource !== "function") return;
    source = new window.EventSource(url);
    source.addEventListener("alert", onAlert);
    source.addEventListener("stale", banner);  // more was missed than the stream replays: offer a reload
  };
})();
