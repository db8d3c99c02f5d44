// The Teams "Alerts" tab (/app/tab) — plain JavaScript, no build step; loaded with `defer` after TeamsJS
// (vendor/MicrosoftTeams-*.min.js, served from this origin). Inside Teams it tells the host the tab has
// loaded (without that, Teams warns on its *.cloud.microsoft hosts) and opens the dashboard through
// Teams (`app.openLink`: the browser, where the session cookie is sent). Outside Teams, or when the
// host does not answer, nothing changes: the button stays a plain link that opens a new window.
(function () {
  "use strict";

  var teams = window.microsoftTeams;
  var page = document.documentElement;
  if (!teams || !teams.app || window.parent === window) {
    page.setAttribute("data-teams", "absent");
    return;
  }
  teams.app.initialize().then(function () {
    teams.app.notifySuccess();
    page.setAttribute("data-teams", "ready");
    document.querySelectorAll("a[data-open-in-browser]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        teams.app.openLink(link.href).catch(function () {
          window.open(link.href, "_blank", "noopener");
        });
      });
    });
  }).catch(function () {
    page.setAttribute("data-teams", "unavailable");
  });
})();
