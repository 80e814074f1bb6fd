// The Echoic listening test page: one MUSHRA trial at a time, keyboard and screen reader first.
// Every control is a native element (button, input type=range) with a visible label; changes are
// announced in the status region (polite) and problems in the alert region (assertive).
"use strict";

(function () {
  const SCALE = [[80, "excellent"], [60, "good"], [40, "fair"], [20, "poor"], [0, "bad"]];
  const $ = (id) => document.getElementById(id);
  const state = { listener: null, test: null, index: 0, audio: null, playing: null, saving: false };

  function word(value) {
    for (const [low, name] of SCALE) if (value >= low) return name;
    return "bad";
  }

  function announce(text) {
    // Clear first so the same words twice in a row are spoken twice.
    const status = $("status");
    status.textContent = "";
    window.setTimeout(() => { status.textContent = text; }, 50);
  }

  function alertText(text) {
    $("alert").textContent = text;
  }

  // --- playing ------------------------------------------------------------------------------
  function stop(quiet) {
    if (state.audio) {
      state.audio.pause();
      state.audio.removeAttribute("src");
      state.audio = null;
    }
    const was = state.playing;
    state.playing = null;
    document.body.dataset.playing = "";
    if (was && !quiet) announce("Stopped.");
  }

  function play(url, name) {
    stop(true);
    const audio = new Audio(url);
    state.audio = audio;
    state.playing = name;
    document.body.dataset.playing = name;
    audio.addEventListener("ended", () => {
      if (state.audio === audio) {
        state.audio = null;
        state.playing = null;
        document.body.dataset.playing = "";
        announce(name + " finished.");
      }
    });
    announce("Playing " + name + ".");
    const started = audio.play();
    if (started && started.catch) {
      started.catch((err) => {
        if (state.audio === audio && err.name !== "AbortError") {
          alertText("Could not play " + name + ": " + err.message);
        }
      });
    }
  }

  function currentTrial() {
    return state.test.trials[state.index];
  }

  function playSample(n) {
    const trial = currentTrial();
    const sample = trial && trial.samples[n];
    if (sample) play(sample.file, "sample " + sample.label);
  }

  // --- one trial ----------------------------------------------------------------------------
  function sliderText(slider) {
    const value = Number(slider.value);
    return value + ", " + word(value) + (slider.dataset.touched ? "" : ", not rated yet");
  }

  function onSliderInput(slider, output) {
    slider.dataset.touched = "1";
    slider.closest("fieldset").classList.remove("untouched");
    output.value = slider.value;
    slider.setAttribute("aria-valuetext", sliderText(slider));
  }

  function buildSample(sample, i, saved) {
    const id = "rating-" + sample.label;
    const fieldset = document.createElement("fieldset");
    fieldset.className = "sample";
    fieldset.dataset.index = String(i);
    const legend = document.createElement("legend");
    legend.textContent = "Sample " + sample.label;
    fieldset.appendChild(legend);

    const button = document.createElement("button");
    button.type = "button";
    button.className = "play";
    button.dataset.index = String(i);
    if (i < 9) button.setAttribute("aria-keyshortcuts", String(i + 1));
    button.textContent = "Play sample " + sample.label + (i < 9 ? " (" + (i + 1) + ")" : "");
    button.addEventListener("click", () => playSample(i));
    fieldset.appendChild(button);

    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = "Rating for sample " + sample.label + ", 0 to 100";
    fieldset.appendChild(label);

    const slider = document.createElement("input");
    slider.type = "range";
    slider.id = id;
    slider.min = "0";
    slider.max = "100";
    slider.step = "1";
    slider.dataset.file = sample.file;
    slider.dataset.index = String(i);
    const start = saved && sample.file in saved ? saved[sample.file] : 50;
    slider.value = String(start);
    if (saved) slider.dataset.touched = "1";
    else fieldset.classList.add("untouched");
    const output = document.createElement("output");
    output.htmlFor = id;
    output.value = String(start);
    output.setAttribute("aria-hidden", "true");  // the slider's own value text says it
    slider.setAttribute("aria-valuetext", sliderText(slider));
    slider.addEventListener("input", () => onSliderInput(slider, output));
    slider.addEventListener("keydown", (event) => stepByFive(event, slider));
    fieldset.appendChild(slider);
    fieldset.appendChild(output);
    return fieldset;
  }

  function stepByFive(event, slider) {
    if (!event.shiftKey || event.ctrlKey || event.altKey || event.metaKey) return;
    const up = event.key === "ArrowUp" || event.key === "ArrowRight";
    const down = event.key === "ArrowDown" || event.key === "ArrowLeft";
    if (!up && !down) return;
    event.preventDefault();
    const value = Math.max(0, Math.min(100, Number(slider.value) + (up ? 5 : -5)));
    slider.value = String(value);
    slider.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function showTrial(index) {
    stop(true);
    state.index = index;
    const trial = currentTrial();
    $("start").hidden = true;
    $("done").hidden = true;
    $("trial").hidden = false;
    $("trial-heading").textContent = "Trial " + trial.number + " of " + state.test.total;
    const sentence = $("sentence");
    sentence.textContent = trial.sentence;
    sentence.lang = trial.language;
    const samples = $("samples");
    samples.textContent = "";
    trial.samples.forEach((sample, i) => samples.appendChild(buildSample(sample, i, trial.saved)));
    $("trial-heading").focus();
    announce("Trial " + trial.number + " of " + state.test.total + ", " + trial.samples.length +
             " samples. Press R for the reference, 1 to " + Math.min(9, trial.samples.length) + " for the samples.");
  }

  function showDone() {
    stop(true);
    $("trial").hidden = true;
    $("start").hidden = true;
    $("done").hidden = false;
    $("done-text").textContent = "All " + state.test.total + " trials are saved for " + state.listener +
      ". Thank you for listening. You can close this page.";
    $("done-heading").focus();
    announce("All trials saved. Thank you.");
  }

  function nextUnsaved(from) {
    const trials = state.test.trials;
    for (let i = 0; i < trials.length; i++) {
      const j = (from + i) % trials.length;
      if (!trials[j].saved) return j;
    }
    return -1;
  }

  async function save() {
    // A second Enter while saving is ignored. (The button is not disabled: disabling the focused
    // button would drop focus to the page, and a screen reader user would lose their place.)
    if (state.saving) return;
    const trial = currentTrial();
    const sliders = Array.from(document.querySelectorAll("#samples input[type=range]"));
    const untouched = sliders.find((s) => !s.dataset.touched);
    if (untouched) {
      const label = currentTrial().samples[Number(untouched.dataset.index)].label;
      alertText("Sample " + label + " is not rated yet. Move its slider with the arrow keys, then save again.");
      untouched.focus();
      return;
    }
    const ratings = {};
    for (const s of sliders) ratings[s.dataset.file] = Number(s.value);
    state.saving = true;
    $("save").setAttribute("aria-disabled", "true");
    try {
      const reply = await fetch("api/rate", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ listener: state.listener, trial: trial.id, ratings: ratings }),
      });
      const body = await reply.json();
      if (!reply.ok) throw new Error(body.error || reply.statusText);
      alertText("");
      trial.saved = ratings;
      const next = nextUnsaved(state.index + 1);
      if (next < 0) showDone();
      else {
        showTrial(next);
        announce("Saved. Trial " + currentTrial().number + " of " + state.test.total + ".");
      }
    } catch (err) {
      alertText("Your ratings were not saved: " + err.message + " They are still on this page; try Save again.");
    } finally {
      state.saving = false;
      $("save").removeAttribute("aria-disabled");
    }
  }

  // --- start --------------------------------------------------------------------------------
  async function start(event) {
    event.preventDefault();
    const name = $("listener").value.trim();
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/.test(name)) {
      alertText("The name must be 1 to 40 letters, digits, hyphens or underscores, starting with a letter or digit.");
      $("listener").setAttribute("aria-invalid", "true");
      $("listener").focus();
      return;
    }
    $("listener").removeAttribute("aria-invalid");
    try {
      const reply = await fetch("api/test?listener=" + encodeURIComponent(name));
      const body = await reply.json();
      if (!reply.ok) throw new Error(body.error || reply.statusText);
      alertText("");
      state.listener = name;
      state.test = body;
      const done = body.trials.filter((t) => t.saved).length;
      const next = nextUnsaved(0);
      if (next < 0) showDone();
      else {
        showTrial(next);
        if (done) announce("Welcome back. " + done + " of " + body.total + " trials were already saved. Trial " +
                           currentTrial().number + " of " + body.total + ".");
      }
    } catch (err) {
      alertText("The test could not start: " + err.message);
    }
  }

  function onKey(event) {
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    const target = event.target;
    if (target && target.tagName === "INPUT" && target.type === "text") return;
    if (event.key === "Escape" || event.key === "s" || event.key === "S") {
      if (state.playing) { stop(false); event.preventDefault(); }
      return;
    }
    if ($("trial").hidden || event.shiftKey) return;
    if (event.key === "r" || event.key === "R") {
      play(currentTrial().reference, "the reference");
      event.preventDefault();
    } else if (/^[1-9]$/.test(event.key)) {
      playSample(Number(event.key) - 1);
      event.preventDefault();
    } else if (event.key === "p" || event.key === "P") {
      const index = target && target.dataset ? target.dataset.index : undefined;
      if (index !== undefined) { playSample(Number(index)); event.preventDefault(); }
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("start-form").addEventListener("submit", start);
    $("save").addEventListener("click", save);
    $("stop").addEventListener("click", () => stop(false));
    $("play-reference").addEventListener("click", () => play(currentTrial().reference, "the reference"));
    document.addEventListener("keydown", onKey);
    document.body.dataset.ready = "1";
  });
})();
