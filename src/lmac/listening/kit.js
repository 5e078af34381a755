// The participant's side of the lmac listening test: no server, no network; ratings leave as a CSV download.
"use strict";
const KIT = JSON.parse(document.getElementById("kit-data").textContent);
const MOS_LABELS = ["Bad", "Poor", "Fair", "Good", "Excellent"];
const SCALE_TEXT = "0-20 Bad · 20-40 Poor · 40-60 Fair · 60-80 Good · 80-100 Excellent";
const INSTRUCTIONS = {
  mushra: "Each trial plays a reference sound and several test sounds, labelled by letters. Rate how well each " +
    "test sound renders the reference (100: it cannot be told apart from it). One of the test sounds is the " +
    "reference itself: give it 100. Play every sound as often as you like before rating it.",
  mos: "Each trial plays several sounds, labelled by letters. Rate the quality of each on the scale from " +
    "1 (Bad) to 5 (Excellent). Play every sound as often as you like before rating it.",
};

// cyrb53: a 53-bit hash of the participant's name and the kit's seed, the seed of their own order
function hash(text) {
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

// mulberry32: a small seeded generator, so that a participant's order can be drawn again from their name
function generator(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled(items, random) {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function element(tag, attributes, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
  for (const child of children || []) node.append(child);
  return node;
}

function player(uri, seconds) {
  return element("audio", { controls: "", preload: "auto", src: uri, "data-seconds": String(seconds) });
}

function ratingControl(trialIndex, position, onRated) {
  if (KIT.mode === "mushra") {
    const value = element("span", { class: "value" }, ["not rated"]);
    const slider = element("input", { type: "range", min: "0", max: "100", step: "1", value: "50",
      name: `t${trialIndex}s${position}` });
    slider.addEventListener("input", () => { value.textContent = slider.value; onRated(Number(slider.value)); });
    return element("div", {}, [slider, element("br"), value]);
  }
  const choices = MOS_LABELS.map((label, k) => {
    const radio = element("input", { type: "radio", name: `t${trialIndex}s${position}`, value: String(k + 1) });
    radio.addEventListener("change", () => onRated(k + 1));
    return element("label", {}, [radio, ` ${k + 1} ${label}`, element("br")]);
  });
  return element("div", { class: "mos" }, choices);
}

const state = { participant: "", seed: 0, order: [], ratings: [], current: -1 };

function buildTrial(trial, position, total, random) {
  // the letters: the hidden reference (the reference's sound), the anchor and every method, in this participant's order
  const names = shuffled(Object.keys(trial.sounds), random);
  const rated = new Map();
  const next = element("button", { class: "next", disabled: "" }, [position + 1 < total ? "Next trial" : "Finish"]);
  const cards = names.map((stimulus, k) => {
    const letter = String.fromCharCode(65 + k);
    const control = ratingControl(position, k, (value) => {
      rated.set(stimulus, { value, letter });
      if (rated.size === names.length) next.removeAttribute("disabled");
    });
    return element("div", { class: "stimulus", "data-stimulus-letter": letter }, [
      element("div", {}, [letter]), player(trial.sounds[stimulus], trial.seconds), control]);
  });
  const header = [element("h2", {}, [`Trial ${position + 1} of ${total}`])];
  if (KIT.mode === "mushra") {
    header.push(element("div", { class: "reference" }, ["Reference: ", player(trial.sounds.reference, trial.seconds)]));
    header.push(element("p", { class: "scale" }, [SCALE_TEXT]));
  }
  const section = element("section", { class: "trial", "data-position": String(position) },
    [...header, element("div", { class: "stimuli" }, cards), element("p", {}, [next])]);
  next.addEventListener("click", () => {
    for (const [stimulus, { value, letter }] of rated) {
      state.ratings.push({ trial: trial.id, condition: trial.condition, clip: trial.clip, trial_position: position + 1,
        stimulus, shown_as: letter, rating: value });
    }
    show(position + 1);
  });
  return section;
}

function show(position) {
  document.querySelectorAll("section").forEach((s) => s.classList.remove("current"));
  document.querySelectorAll("audio").forEach((a) => a.pause());
  const trials = document.querySelectorAll("section.trial");
  if (position < trials.length) {
    trials[position].classList.add("current");
  } else {
    finish();
  }
  state.current = position;
}

function csvField(value) {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function ratingsCsv() {
  const columns = ["participant", "session_seed", "mode", "trial", "condition", "clip", "trial_position", "stimulus",
    "shown_as", "rating", "submitted"];
  const submitted = new Date().toISOString();
  const lines = state.ratings.map((r) => [state.participant, state.seed, KIT.mode, r.trial, r.condition, r.clip,
    r.trial_position, r.stimulus, r.shown_as, r.rating, submitted].map(csvField).join(","));
  return [columns.join(","), ...lines].join("\n") + "\n";
}

function fileName() {
  return `ratings_${state.participant.replace(/[^A-Za-z0-9_-]+/g, "_")}.csv`;
}

function finish() {
  document.getElementById("finish").classList.add("current");
  document.getElementById("ratings").value = ratingsCsv();
  document.getElementById("filename").textContent = fileName();
}

function save() {
  const blob = new Blob([document.getElementById("ratings").value], { type: "text/csv" });
  const link = element("a", { href: URL.createObjectURL(blob), download: fileName() });
  document.body.append(link);
  link.click();
  link.remove();
}

function start() {
  const name = document.getElementById("participant").value.trim();
  if (!name) {
    document.getElementById("participant").focus();
    return;
  }
  state.participant = name;
  state.seed = hash(`${KIT.seed}:${name}`);
  const random = generator(state.seed);
  const order = shuffled(KIT.trials, random);
  const container = document.getElementById("trials");
  order.forEach((trial, position) => container.append(buildTrial(trial, position, order.length, random)));
  show(0);
}

document.getElementById("instructions").textContent = INSTRUCTIONS[KIT.mode];
document.getElementById("levels").textContent = `Levels: ${KIT.levels}.`;
document.getElementById("start").addEventListener("click", start);
document.getElementById("save").addEventListener("click", save);
