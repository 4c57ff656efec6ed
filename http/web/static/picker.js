// Type-ahead for Steward's name fields. An <input data-suggest="person|owner|team|system|identity|entitlement"
// list="…"> asks the server for the best matches of what was typed and puts
// them in its <datalist>, which the browser shows under the field and lets
// the keyboard choose from. An empty data-suggest asks nothing; a
// <select data-suggest-for="ID"> (the audit page's kind of object) sets
// what the field ID looks up to the kind chosen. Without this script the
// fields still take a typed name, which the server resolves.
(function () {
  "use strict";
  function attach(input) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) {
      return;
    }
    var timer = 0;
    var asked = null;
    var pending = null;
    function ask() {
      var q = input.value.trim();
      if (q === asked) {
        return;
      }
      asked = q;
      if (pending) {
        pending.abort();
      }
      if (q === "" || !input.dataset.suggest) {
        return;
      }
      pending = new AbortController();
      var url = "/suggest?what=" + encodeURIComponent(input.dataset.suggest) + "&q=" + encodeURIComponent(q);
      fetch(url, { signal: pending.signal, credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (res) { return res.ok ? res.json() : []; })
        .then(function (items) {
          if (input.value.trim() !== q || !Array.isArray(items)) {
            return; // the person typed on; a newer answer follows
          }
          var options = items.map(function (it) {
            var o = document.createElement("option");
            o.value = it.value;
            o.label = it.label;
            o.textContent = it.label;
            return o;
          });
          list.replaceChildren.apply(list, options);
          input.setAttribute("data-suggested", String(options.length));
        })
        .catch(function () { /* aborted or offline: keep the old list */ });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, 120);
    });
    // What the field looks up changed: the old choices are of another kind.
    input.addEventListener("suggest-reset", function () {
      list.replaceChildren();
      asked = null;
      ask();
    });
  }
  document.querySelectorAll("input[data-suggest]").forEach(attach);
  var lookups = { person: true, team: true, system: true };
  document.querySelectorAll("select[data-suggest-for]").forEach(function (kind) {
    var input = document.getElementById(kind.dataset.suggestFor);
    if (!input) {
      return;
    }
    kind.addEventListener("change", function () {
      input.dataset.suggest = lookups[kind.value] ? kind.value : "";
      input.dispatchEvent(new Event("suggest-reset"));
    });
  });
})();

// The time left on a JIT grant, counted down to its expiry; the page says it
// without this script too, as of when it was made.
(function () {
  "use strict";
  var el = document.getElementById("countdown");
  if (!el) {
    return;
  }
  var end = Date.parse(el.dataset.expires);
  function tick() {
    var s = Math.max(0, Math.round((end - Date.now()) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    el.textContent = s === 0 ? "0s (expired)" : (h ? h + "h" : "") + (h || m ? m + "m" : "") + (s % 60) + "s";
    if (s > 0) {
      setTimeout(tick, 1000);
    }
  }
  tick();
})();
