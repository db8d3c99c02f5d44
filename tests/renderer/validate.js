// Parses Adaptive Cards with Microsoft's own renderer library (npm "adaptivecards") under a Teams-like
// host config and reports every parse warning and validation error, as JSON on stdout.
//   stdin:  {"cards": [{"name": "...", "card": {...}}, ...]}
//   stdout: {"package": "3.0.6", "checked": N, "warnings": N, "errors": N, "markup": N,
//            "cards": [{"name", "warnings": [{"event", "message"}], "errors": [...], "markup": [...]}]}
// "markup": TextBlocks whose Markdown (markdown-it, links auto-detected like Teams does) makes a link, an
// image, a heading, a list, a quote, code or raw HTML: customer text must stay inert, and hotloop's own
// text uses bold only. Parsing and validation need no DOM (scripts/card_screenshots.py renders).
"use strict";
const AC = require("adaptivecards/dist/adaptivecards.js");
const { version } = require("adaptivecards/package.json");
const markdown = require("markdown-it")({ linkify: true });
const { TEAMS_HOST_CONFIG } = require("./host_config.js");

const ACTIVE_MARKUP = /<(a|img|h[1-6]|ol|ul|li|blockquote|code|pre|table|hr|em|s|del)\b/;

function events(list) {
  return list.map((e) => ({ event: AC.ValidationEvent[e.event], message: e.message }));
}

function textBlocks(node, found = []) {
  if (Array.isArray(node)) node.forEach((n) => textBlocks(n, found));
  else if (node && typeof node === "object") {
    if (node.type === "TextBlock" && typeof node.text === "string") found.push(node.text);
    Object.values(node).forEach((v) => textBlocks(v, found));
  }
  return found;
}

function markup(json) {
  return textBlocks(json)
    .map((text) => ({ text: text.slice(0, 120), html: markdown.render(text) }))
    .filter((t) => ACTIVE_MARKUP.test(t.html))
    .map((t) => ({ event: "ActiveMarkdown", message: `${t.text} → ${t.html.slice(0, 200)}` }));
}

function check(name, json, hostConfig) {
  const card = new AC.AdaptiveCard();
  card.hostConfig = hostConfig;
  // The host's own schema version (the package's latest), as a host parses what it receives.
  const context = new AC.SerializationContext();
  card.parse(json, context);
  const parsed = [];
  for (let i = 0; i < context.eventCount; i++) parsed.push(context.getEventAt(i));
  const validated = card.validateProperties().validationEvents;
  return { name, warnings: events(parsed), errors: events(validated), markup: markup(json) };
}

function main(input) {
  const hostConfig = new AC.HostConfig(TEAMS_HOST_CONFIG);
  const results = JSON.parse(input).cards.map((c) => check(c.name, c.card, hostConfig));
  const count = (key) => results.reduce((n, r) => n + r[key].length, 0);
  const report = { package: version, checked: results.length, warnings: count("warnings"),
                   errors: count("errors"), markup: count("markup"), cards: results };
  process.stdout.write(JSON.stringify(report));
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => main(input));
