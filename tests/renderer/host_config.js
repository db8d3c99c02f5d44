// A Teams-like host config: Teams' limits (at most 5 actions in an ActionSet: fewer than the 6 Teams
// shows on a desktop, so the cards fit phones too), inline ShowCards, Segoe UI sizes and the container
// colours the header uses.
"use strict";
const foreground = (accent) => ({
  default: { default: "#242424", subtle: "#616161" },
  dark: { default: "#252423", subtle: "#484644" },
  light: { default: "#ffffff", subtle: "#fafafa" },
  accent: { default: accent, subtle: "#8b8cc7" },
  good: { default: "#0e700e", subtle: "#107c10" },
  warning: { default: "#8a3707", subtle: "#bc4b09" },
  attention: { default: "#c4314b", subtle: "#d13438" },
});

const TEAMS_HOST_CONFIG = {
  supportsInteractivity: true,
  spacing: { small: 4, default: 8, medium: 16, large: 24, extraLarge: 32, padding: 16 },
  separator: { lineThickness: 1, lineColor: "#e0e0e0" },
  fontTypes: {
    default: {
      fontFamily: "'Segoe UI', 'Liberation Sans', Arial, sans-serif",
      fontSizes: { small: 12, default: 14, medium: 18, large: 24, extraLarge: 32 },
      fontWeights: { lighter: 300, default: 400, bolder: 600 },
    },
    monospace: {
      fontFamily: "Consolas, 'Liberation Mono', monospace",
      fontSizes: { small: 12, default: 14, medium: 18, large: 24, extraLarge: 32 },
      fontWeights: { lighter: 300, default: 400, bolder: 600 },
    },
  },
  containerStyles: {
    default: { backgroundColor: "#ffffff", foregroundColors: foreground("#5b5fc7") },
    emphasis: { backgroundColor: "#f5f5f5", foregroundColors: foreground("#5b5fc7") },
    accent: { backgroundColor: "#e8ebfa", foregroundColors: foreground("#5b5fc7") },
    good: { backgroundColor: "#e7f2da", foregroundColors: foreground("#5b5fc7") },
    attention: { backgroundColor: "#fcf4f6", foregroundColors: foreground("#5b5fc7") },
    warning: { backgroundColor: "#fbf6d9", foregroundColors: foreground("#5b5fc7") },
  },
  actions: {
    maxActions: 5,
    spacing: "default",
    buttonSpacing: 8,
    showCard: { actionMode: "inline", inlineTopMargin: 8, style: "emphasis" },
    actionsOrientation: "horizontal",
    actionAlignment: "left",
  },
  adaptiveCard: { allowCustomStyle: true },
  inputs: { label: { requiredInputs: { suffix: " *" }, optionalInputs: {} } },
};

// Node (validate.js) requires it; the screenshot page (scripts/card_screenshots.html) loads it as a script.
if (typeof module !== "undefined") module.exports = { TEAMS_HOST_CONFIG };
else window.TEAMS_HOST_CONFIG = TEAMS_HOST_CONFIG;
