// The chat page of `dialog-envs serve`: one session per page load, plain DOM and fetch, no libraries.
"use strict";

const state = { session: null, mode: "rate", busy: false };
const $ = (id) => document.getElementById(id);

async function call(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function say(role, text) {
  const line = document.createElement("div");
  line.className = `turn ${role}`;
  line.textContent = text;
  $("chat").appendChild(line);
  $("chat").scrollTop = $("chat").scrollHeight;
  return line;
}

function status(text) { $("status").textContent = text || ""; }

function canType(yes) {
  $("message").disabled = !yes;
  $("send").disabled = !yes;
  if (yes) $("message").focus();
}

function button(id, label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.id = id;
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

function showRating(reply) {
  const line = say("agent", reply);
  const judge = $("judge");
  judge.replaceChildren(document.createTextNode("Rate this reply: "));
  for (let r = 1; r <= 5; r++) {
    judge.appendChild(button(`rate-${r}`, String(r), () => rate(r, line)));
  }
  judge.appendChild(Object.assign(document.createElement("span"), { className: "rating-label", textContent: "1 bad ... 5 great" }));
}

function showPair(replyA, replyB) {
  const judge = $("judge");
  const pair = document.createElement("div");
  pair.className = "pair";
  for (const [which, text] of [["a", replyA], ["b", replyB]]) {
    const box = document.createElement("div");
    box.className = "candidate";
    const body = Object.assign(document.createElement("div"), { id: `reply-${which}`, className: "text", textContent: text });
    box.append(Object.assign(document.createElement("strong"), { textContent: `Reply ${which.toUpperCase()}` }), body,
      button(`choose-${which}`, `${which.toUpperCase()} is better`, () => prefer(which)));
    pair.appendChild(box);
  }
  judge.replaceChildren(Object.assign(document.createElement("p"), { textContent: "Which reply is better? It continues the conversation." }), pair);
}

function afterJudged(result) {
  $("judge").replaceChildren();
  if (result.ended) finish(`The conversation reached its limit of ${result.turn} turns.`);
  else canType(true);
}

async function send(event) {
  event.preventDefault();
  const text = $("message").value;
  if (!text.trim() || state.busy) return;
  state.busy = true;
  canType(false);
  status("");
  try {
    const result = await call("/api/message", { session: state.session, text });
    say("user", text);
    $("message").value = "";
    if (state.mode === "rate") showRating(result.reply);
    else showPair(result.reply_a, result.reply_b);
  } catch (error) {
    status(error.message);
    canType(true);
  } finally {
    state.busy = false;
  }
}

async function rate(rating, line) {
  try {
    const result = await call("/api/rate", { session: state.session, rating });
    line.appendChild(Object.assign(document.createElement("span"), { className: "rating-label", textContent: `rated ${rating}` }));
    afterJudged(result);
  } catch (error) { status(error.message); }
}

async function prefer(which) {
  try {
    const result = await call("/api/prefer", { session: state.session, preferred: which });
    say("agent", result.reply);
    afterJudged(result);
  } catch (error) { status(error.message); }
}

function finish(note) {
  state.session = null;
  canType(false);
  $("judge").replaceChildren();
  $("end").disabled = true;
  $("restart").hidden = false;
  say("note", note);
}

async function end() {
  try {
    const result = await call("/api/end", { session: state.session });
    finish(`Conversation ended after ${result.turn} rated turns. Thank you!`);
  } catch (error) { status(error.message); }
}

async function start() {
  $("chat").replaceChildren();
  $("judge").replaceChildren();
  $("restart").hidden = true;
  status("");
  try {
    const info = await call("/api/sessions", {});
    Object.assign(state, { session: info.session, mode: info.mode });
    $("message").maxLength = info.max_text_chars;
    $("help").textContent = info.mode === "rate"
      ? "You are the user. Type what you want; rate every reply from 1 (bad) to 5 (great)."
      : "You are the user. Type what you want; the agent offers two replies: pick the better one.";
    $("about").textContent = `agent: ${info.agent} · session ${info.session} · at most ${info.max_turns} turns`;
    $("end").disabled = false;
    canType(true);
  } catch (error) { status(error.message); }
}

$("composer").addEventListener("submit", send);
$("message").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("composer").requestSubmit(); }
});
$("end").addEventListener("click", end);
$("restart").addEventListener("click", start);
start();
