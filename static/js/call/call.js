// The live call on the room page: join flow, controls, states and captions (docs/signalling.md).

import { gettext, gettext_noop, interpolate } from "../i18n.js";
import { audioInterrupted, declareCallAudio, watchAudioState } from "./audiosession.js";
import { Backoff } from "./backoff.js";
import { callProblem, microphoneCheckPossible, offerOtherBrowser } from "./capability.js";
import { Captions } from "./captions.js";
import { LevelMeter } from "./meter.js";
import { MicrophoneCheck } from "./miccheck.js";
import { getMicrophone, microphoneProblem } from "./microphone.js";
import { MICROPHONE_ENDED, MICROPHONE_SILENT, MICROPHONE_SYSTEM_MUTED, MicrophoneWatch } from "./micwatch.js";
import { watchNetwork } from "./network.js";
import { createPeer, gatheredOffer } from "./peer.js";
import { Playback } from "./playback.js";
import { sendPresence, watchPresence } from "./presence.js";
import { ProblemBox } from "./problem.js";
import { Roster } from "./roster.js";
import { Signalling } from "./signalling.js";
import { TurnRenewal } from "./turn.js";
import { ScreenAwake } from "./wakelock.js";

const CLOSE_MESSAGES = {
  4401: gettext_noop("You are no longer signed in. Log in, or open your invite link again."),
  4403: gettext_noop("You can't join this call: you are not a member of this room (or the page was opened from another site)."),
  4409: gettext_noop("You joined this call from another tab or device, so it ended here."),
  4410: gettext_noop("This room has been closed by its owner, so the call has ended."),
  4429: gettext_noop("This page sent too many messages and was disconnected."),
};
// Access that ended (docs/signalling.md): the server's own sentence says more than the close code.
const SERVER_EXPLAINS = new Set(["removed", "session_ended"]);
// After these, joining again from this page can work; after the others it would be refused again.
const REJOINABLE_CODES = new Set([4409, 4429]);

// A peer connection that stays "disconnected" this long is replaced; most recover within a second or two.
const DISCONNECTED_GRACE_MS = 4000;
// Captions trail speech by a moment: a fragment this recent counts as the speaker still speaking.
const SPEAKING_WINDOW_MS = 1500;
// The local meter level (0..1, -60..0 dBFS) above which I am shown as speaking.
const MY_SPEAKING_LEVEL = 0.45;
const SPEAKING_TICK_MS = 300;
// Sliders are sent at most this often while dragged: the server rate-limits signalling messages.
const SETTINGS_SEND_MS = 150;
const MICROPHONE_PROBLEMS = { ended: MICROPHONE_ENDED, muted: MICROPHONE_SYSTEM_MUTED, silent: MICROPHONE_SILENT };
const CALL_INTERRUPTED = gettext_noop("Call interrupted: another call, Siri or an alarm took over the sound.");

function socketUrl(path) {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}`;
}

function seconds(ms) {
  return interpolate(gettext("%(seconds)s s"), { seconds: Math.max(1, Math.round(ms / 1000)) });
}

export class Call {
  /** @param {HTMLElement} root the `#call` section of the room page */
  constructor(root) {
    const find = (name) => root.querySelector(`[data-call-${name}]`);
    this.root = root;
    this.ui = {
      state: find("state"),
      alert: find("alert"),
      demo: find("demo"),
      transcribed: root.querySelector("[data-transcribed-notice]"),
      translation: find("translation"),
      lobby: find("lobby"),
      join: find("join"),
      tap: find("tap"),
      live: find("live"),
      mute: find("mute"),
      leave: find("leave"),
      people: find("people"),
      captionsPanel: find("captions-panel"),
      captionsToggle: find("captions-toggle"),
      language: find("language"),
      translationVolume: find("translation-volume"),
      originalVolume: find("original-volume"),
      audio: find("audio"),
      hint: find("hint"),
      boost: find("boost"),
      outputField: find("output-field"),
      output: find("output"),
      checkPanel: find("check-panel"),
      check: find("check"),
    };
    this.captions = new Captions(find("captions"));
    this.roster = new Roster(this.ui.people);
    this.meter = new LevelMeter(find("meter"));
    this.micCheck = new MicrophoneCheck({ bar: find("check-meter"), status: find("check-status") });
    this.micWatch = new MicrophoneWatch({
      level: () => this.meter.rms,
      isMuted: () => this.muted,
      onProblem: (problem) => this.onMicrophoneProblem(problem),
    });
    this.problems = new ProblemBox({
      box: find("problem"),
      text: find("problem-text"),
      action: find("problem-action"),
    });
    this.playback = new Playback(this.ui.audio, {
      onNeedsTap: (needed) => {
        this.ui.tap.hidden = !needed;
      },
    });
    this.screenAwake = new ScreenAwake({
      onHint: (text) => {
        this.ui.hint.textContent = text;
        this.ui.hint.hidden = false;
      },
    });
    this.otherBrowser = {
      button: find("open-elsewhere"),
      box: find("link-box"),
      field: find("link"),
      note: find("link-note"),
    };
    this.peerBackoff = new Backoff();
    this.signalling = new Signalling(socketUrl(root.dataset.wsPath), {
      onMessage: (message) => this.onMessage(message),
      onClose: (info) => this.onSocketClose(info),
    });
    this.turn = new TurnRenewal((message) => this.signalling.send(message));
    // Why the server is about to close the socket, when its close code alone doesn't say.
    this.fatalMessage = null;
    this.hello = null;
    // Whether the current socket has said hello: offers go only to a socket that has.
    this.ready = false;
    this.inCall = false;
    this.joining = false;
    this.muted = false;
    this.stream = null;
    this.track = null;
    this.pc = null;
    this.sender = null;
    this.audioContext = null;
    // The microphone opened by the check before joining: Join uses it rather than asking again.
    this.checkedStream = null;
    this.speaks = new Map();
    this.translationProblems = new Map();
    this.pendingSettings = {};
    this.settingsTimer = null;
    this.retryTimer = null;
    this.disconnectTimer = null;
    this.speakingTimer = null;
  }

  start() {
    const { ui } = this;
    ui.join.addEventListener("click", () => this.join());
    ui.leave.addEventListener("click", () => this.leave());
    ui.mute.addEventListener("click", () => this.setMuted(!this.muted));
    ui.tap.addEventListener("click", () => this.playback.unlock());
    ui.check.addEventListener("click", () => this.checkMicrophone());
    ui.boost.addEventListener("input", () => this.playback.setBoost(Number(ui.boost.value)));
    ui.output.addEventListener("change", () =>
      this.playback
        .setOutput(ui.output.value)
        .catch((error) => this.showAlert(interpolate(gettext("That speaker could not be used (%(error)s)."), { error: error.name }))),
    );
    ui.language.addEventListener("change", () => {
      // Problems reported for the old language say nothing about the new one.
      this.translationProblems.clear();
      this.renderTranslation();
      this.sendSettings({ hear_language: ui.language.value });
    });
    ui.translationVolume.addEventListener("input", () =>
      this.sendSettings({ translation_volume: Number(ui.translationVolume.value) }),
    );
    ui.originalVolume.addEventListener("input", () =>
      this.sendSettings({ original_volume: Number(ui.originalVolume.value) }),
    );
    ui.captionsToggle.addEventListener("change", () => {
      ui.captionsPanel.hidden = !ui.captionsToggle.checked;
    });
    // pagehide, not unload: iOS Safari does not fire unload reliably, and unload blocks the back-forward cache.
    window.addEventListener("pagehide", () => this.pageHidden());
    window.addEventListener("pageshow", (event) => {
      if (event.persisted) this.connect();
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.backInFront();
    });
    watchPresence((message) => this.inCall && this.signalling.send(message));
    watchNetwork({
      onBack: () => this.rejoin(),
      onLost: () => {
        if (this.inCall) this.setState(gettext("You are offline. The call comes back when the network does…"), "busy");
      },
    });
    // Before the Join button is any use: say why this browser can't call, and offer another.
    // The page renders the button disabled: a click before the catalog and this wiring are in would be lost.
    const problem = callProblem();
    ui.join.disabled = Boolean(problem);
    if (problem) {
      this.showAlert(gettext(problem.text));
      if (problem.otherBrowserHelps) offerOtherBrowser(this.otherBrowser);
    }
    ui.checkPanel.hidden = !microphoneCheckPossible();
    this.connect();
  }

  connect() {
    this.setState(gettext("Connecting to the room…"), "busy");
    this.signalling.connect();
  }

  // --- Joining and leaving -----------------------------------------------------------------------

  async join() {
    if (this.inCall || this.joining) return;
    this.joining = true;
    this.clearAlert();
    this.unlockAudio();
    this.setState(gettext("Starting your microphone…"), "busy");
    let stream;
    try {
      stream = await this.checkedMicrophone();
    } catch (error) {
      this.joining = false;
      this.showAlert(microphoneProblem(error));
      this.setState(gettext("Not in the call"), "problem");
      return;
    }
    this.joining = false;
    this.inCall = true;
    this.useMicrophone(stream);
    this.peerBackoff.reset();
    this.renderMuted();
    this.renderInCall();
    this.screenAwake.start();
    this.listOutputs();
    this.speakingTimer = setInterval(() => this.renderSpeaking(), SPEAKING_TICK_MS);
    if (this.ready) {
      this.startPeer();
    } else {
      this.connect();
    }
  }

  leave() {
    this.signalling.send({ type: "leave" });
    this.endCall();
    this.setState(gettext("You left the call"), "idle");
  }

  pageHidden() {
    if (this.inCall) this.signalling.send({ type: "leave" });
    this.endCall();
    this.signalling.close();
    this.ready = false;
  }

  /** Ends the call on this page: peer connection, microphone and timers. */
  endCall() {
    this.inCall = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.disconnectTimer);
    clearInterval(this.speakingTimer);
    this.closePeer();
    this.meter.stop();
    this.micWatch.stop();
    this.screenAwake.stop();
    this.problems.clearAll();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.track = null;
    this.playback.stop();
    this.translationProblems.clear();
    this.renderTranslation();
    this.renderInCall();
  }

  useMicrophone(stream) {
    this.stream = stream;
    const track = stream.getAudioTracks()[0];
    this.track = track;
    track.enabled = !this.muted;
    this.meter.start(this.audioContext, stream);
    this.micWatch.watch(track);
  }

  /**
   * The call's one AudioContext (meters, playback), created or resumed inside a tap: iOS keeps a
   * context made outside a gesture suspended.
   */
  unlockAudio() {
    if (!this.audioContext) {
      this.audioContext = new (window.AudioContext || window.webkitAudioContext)();
      this.playback.use(this.audioContext);
      watchAudioState(this.audioContext, () => this.onAudioState());
    }
    this.audioContext.resume();
  }

  /** The microphone the check opened if it still works, else a new one (the audio session declared first). */
  checkedMicrophone() {
    const checked = this.checkedStream;
    this.checkedStream = null;
    this.micCheck.stop();
    if (checked?.getAudioTracks()[0]?.readyState === "live") return Promise.resolve(checked);
    declareCallAudio();
    return getMicrophone();
  }

  async checkMicrophone() {
    this.unlockAudio();
    // Checking again means trying the microphone afresh (it may have been replugged or allowed since).
    for (const track of this.checkedStream?.getTracks() ?? []) track.stop();
    this.checkedStream = null;
    let stream;
    try {
      stream = await this.checkedMicrophone();
    } catch (error) {
      // In the check's own line: the alert may be explaining why this browser can't call.
      this.micCheck.say(microphoneProblem(error));
      return;
    }
    if (this.inCall) {
      for (const track of stream.getTracks()) track.stop();
      return;
    }
    this.checkedStream = stream;
    this.micCheck.start(this.audioContext, stream);
  }

  onMicrophoneProblem(problem) {
    if (!problem) {
      this.problems.clear("microphone");
      return;
    }
    this.problems.show("microphone", gettext(MICROPHONE_PROBLEMS[problem]), gettext("Restart microphone"), () =>
      this.replaceMicrophone(),
    );
    // A device unplugged on a desktop, or a trip to another app, comes back without a tap. Not
    // during an interruption: the call or alarm holds the microphone until Resume call.
    if (problem === "ended" && !audioInterrupted(this.audioContext)) this.replaceMicrophone();
  }

  /** A new microphone track swapped into the running call (`replaceTrack`: no new offer). */
  async replaceMicrophone() {
    if (!this.inCall) return;
    let stream;
    try {
      declareCallAudio();
      stream = await getMicrophone();
    } catch (error) {
      this.showAlert(microphoneProblem(error));
      return;
    }
    if (!this.inCall) {
      for (const track of stream.getTracks()) track.stop();
      return;
    }
    const old = this.stream;
    this.useMicrophone(stream);
    for (const track of old?.getTracks() ?? []) track.stop();
    this.clearAlert();
    await this.sender?.replaceTrack(this.track);
  }

  // --- Interruptions, the background and network changes -------------------------------------

  onAudioState() {
    if (this.inCall && audioInterrupted(this.audioContext)) {
      this.problems.show("interrupted", gettext(CALL_INTERRUPTED), gettext("Resume call"), () =>
        this.resumeAfterInterruption(),
      );
    }
  }

  /** The one tap after an interruption: sound, microphone and connection come back together. */
  async resumeAfterInterruption() {
    this.problems.clear("interrupted");
    this.playback.unlock();
    if (this.track?.readyState !== "live" || this.micWatch.problem) await this.replaceMicrophone();
    if (!this.peerHealthy()) this.rejoin(gettext("Rejoining the call…"));
  }

  /** Back from another app or the lock screen: put back whatever the trip broke. */
  backInFront() {
    if (!this.inCall) return;
    this.playback.unlock();
    if (!this.signalling.isOpen) {
      this.signalling.connect();
    } else if (this.ready && !this.peerHealthy()) {
      this.startPeer();
    }
  }

  peerHealthy() {
    return ["new", "connecting", "connected"].includes(this.pc?.connectionState);
  }

  /**
   * A new socket and peer connection at once: after a network change the old ones hang on to a
   * path that is gone, and aiortc cannot restart ICE. The new socket's hello starts the peer.
   */
  rejoin(why = gettext("The network changed. Rejoining the call…")) {
    if (!this.inCall) return;
    this.setState(why, "busy");
    this.closePeer();
    this.peerBackoff.reset();
    this.ready = false;
    this.signalling.close();
    this.signalling.connect();
  }

  async listOutputs() {
    if (!Playback.canChooseOutput) return;
    const devices = await navigator.mediaDevices.enumerateDevices();
    const outputs = devices.filter((device) => device.kind === "audiooutput");
    this.ui.output.replaceChildren(
      ...outputs.map((device, i) => new Option(device.label || interpolate(gettext("Speaker %(number)s"), { number: i + 1 }), device.deviceId)),
    );
    this.ui.outputField.hidden = outputs.length < 2;
  }

  // --- The peer connection -----------------------------------------------------------------------

  async startPeer() {
    clearTimeout(this.retryTimer);
    this.closePeer();
    this.setState(gettext("Connecting the call…"), "busy");
    const { pc, sender } = createPeer({
      iceServers: this.turn.iceServers,
      track: this.track,
      stream: this.stream,
      onTrack: (stream) => this.playRemote(stream),
      onStateChange: (state) => this.onPeerState(pc, state),
    });
    this.pc = pc;
    this.sender = sender;
    let sdp;
    try {
      sdp = await gatheredOffer(pc);
    } catch (error) {
      if (pc === this.pc) this.retryPeer(interpolate(gettext("The call could not start (%(error)s)"), { error: error.name }));
      return;
    }
    // A newer attempt (a reconnect, a leave) may have replaced this one while ICE gathered.
    if (pc === this.pc) this.signalling.send({ type: "offer", sdp });
  }

  closePeer() {
    clearTimeout(this.disconnectTimer);
    this.pc?.close();
    this.pc = null;
    this.sender = null;
  }

  onPeerState(pc, state) {
    if (pc !== this.pc) return;
    clearTimeout(this.disconnectTimer);
    if (state === "connected") {
      this.peerBackoff.reset();
      this.setState(gettext("In the call"), "live");
    } else if (state === "disconnected") {
      this.setState(gettext("Connection interrupted — reconnecting…"), "busy");
      this.disconnectTimer = setTimeout(() => this.retryPeer(gettext("The connection was lost")), DISCONNECTED_GRACE_MS);
    } else if (state === "failed") {
      this.retryPeer(gettext("The connection failed"));
    }
  }

  /** A new peer connection after a backoff, saying why in the state line. */
  retryPeer(reason) {
    if (!this.inCall) return;
    this.closePeer();
    const delay = this.peerBackoff.next();
    this.setState(interpolate(gettext("%(reason)s. Reconnecting in %(delay)s…"), { reason, delay: seconds(delay) }), "busy");
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      // Without a ready socket the next hello starts the peer instead.
      if (this.inCall && this.ready) this.startPeer();
    }, delay);
  }

  playRemote(stream) {
    this.playback.play(stream);
  }

  // --- Signalling --------------------------------------------------------------------------------

  onMessage(message) {
    switch (message.type) {
      case "hello":
        return this.onHello(message);
      case "answer":
        return this.onAnswer(message);
      case "state":
        return this.onState(message);
      case "captions":
        return this.captions.add(message, this.speaks.get(message.speaker));
      case "translation":
        return this.onTranslation(message);
      case "settings":
        this.ui.language.value = message.participant.hear;
        return;
      case "reconnect":
        if (this.inCall) {
          this.setState(message.message || gettext("Moving your call to another server…"), "busy");
          this.startPeer();
        }
        return;
      case "error":
        return this.onError(message);
      case "ice_servers":
        return this.turn.update(message, this.pc);
      case "transcribed":
        this.ui.transcribed.hidden = !message.on;
        return;
    }
  }

  onHello(hello) {
    const { ui } = this;
    const first = this.hello === null;
    this.hello = hello;
    this.ready = true;
    this.fatalMessage = null;
    this.turn.update(hello, this.pc);
    ui.demo.hidden = !hello.demo;
    ui.transcribed.hidden = !hello.transcribed;
    // After "joined from another tab" the button said "Join here instead"; a new socket starts afresh.
    ui.join.textContent = gettext("Join call");
    if (first) {
      // The languages a general realtime model interprets come last, in a marked group.
      const turnBased = new Set(hello.turn_based);
      const option = ([code, name]) => {
        const element = new Option(name, code);
        element.lang = code;
        return element;
      };
      const entries = Object.entries(hello.languages);
      const group = document.createElement("optgroup");
      group.label = gettext("Turn-based: you hear each sentence after it ends");
      group.append(...entries.filter(([code]) => turnBased.has(code)).map(option));
      ui.language.replaceChildren(
        ...entries.filter(([code]) => !turnBased.has(code)).map(option),
        ...(group.children.length ? [group] : []),
      );
      ui.translationVolume.value = hello.participant.translation_volume;
      ui.originalVolume.value = hello.original_volume;
    } else {
      // A new socket starts from the server's defaults: bring back what this page had set.
      this.signalling.send({
        type: "settings",
        translation_volume: Number(ui.translationVolume.value),
        original_volume: Number(ui.originalVolume.value),
      });
      if (this.muted) this.signalling.send({ type: "mute", muted: true });
    }
    ui.language.value = hello.participant.hear;
    if (this.inCall) {
      sendPresence((message) => this.signalling.send(message));
      this.startPeer();
    } else {
      this.setState(gettext("Not in the call"), "idle");
    }
  }

  onAnswer(message) {
    const pc = this.pc;
    if (!pc) return;
    pc.setRemoteDescription({ type: message.sdp_type, sdp: message.sdp }).catch((error) => {
      if (pc === this.pc) this.retryPeer(interpolate(gettext("The server's answer could not be used (%(error)s)"), { error: error.name }));
    });
  }

  onState({ participants }) {
    this.speaks = new Map(participants.map((person) => [person.id, person.speak]));
    this.roster.render(participants, { myId: this.hello?.participant.id, languages: this.hello?.languages ?? {} });
    this.renderSpeaking();
  }

  onTranslation(message) {
    // speaker null: the whole call's translation changed state, not one speaker's.
    const key = message.speaker ?? "*";
    if (message.status === "live") {
      this.translationProblems.delete(key);
    } else {
      this.translationProblems.set(key, message);
    }
    this.renderTranslation();
  }

  onError(message) {
    // A fatal error is followed by the socket closing with a code: onSocketClose explains it.
    if (message.fatal) {
      this.fatalMessage = SERVER_EXPLAINS.has(message.code) ? message.message : null;
      return;
    }
    if (message.code === "busy") {
      this.retryPeer(gettext("The service is busy: no media worker is free right now"));
    } else if (message.code === "bad_offer") {
      this.retryPeer(gettext("The server could not use this connection"));
    } else if (message.code === "call_full") {
      // Trying again at once would be refused again: the person decides when to retry.
      this.endCall();
      this.showAlert(message.message);
      this.setState(gettext("Not in the call"), "problem");
    } else if (message.code === "join_in_progress") {
      // This page's earlier offer is still being answered; its answer comes.
    } else {
      this.showAlert(message.message);
    }
  }

  onSocketClose({ code, final, wasOpen, retryInMs }) {
    this.ready = false;
    if (final) {
      this.endCall();
      this.turn.stop();
      this.showAlert(this.fatalMessage || gettext(CLOSE_MESSAGES[code]));
      this.ui.join.disabled = !REJOINABLE_CODES.has(code);
      this.ui.join.textContent = gettext(code === 4409 ? "Join here instead" : "Join call");
      this.setState(gettext("Not in the call"), "problem");
      return;
    }
    // The server ends the call when its socket goes: a new socket needs a new peer connection.
    this.closePeer();
    const what = wasOpen ? gettext("Lost the connection to the server") : gettext("Can't reach the server");
    this.setState(
      interpolate(gettext("%(what)s. Trying again in %(delay)s…"), { what, delay: seconds(retryInMs) }),
      this.inCall ? "busy" : "problem",
    );
  }

  // --- Controls ----------------------------------------------------------------------------------

  setMuted(muted) {
    this.muted = muted;
    if (this.track) this.track.enabled = !muted;
    this.signalling.send({ type: "mute", muted });
    this.renderMuted();
  }

  sendSettings(changes) {
    Object.assign(this.pendingSettings, changes);
    if (this.settingsTimer) return;
    this.settingsTimer = setTimeout(() => {
      this.signalling.send({ type: "settings", ...this.pendingSettings });
      this.pendingSettings = {};
      this.settingsTimer = null;
    }, SETTINGS_SEND_MS);
  }

  // --- Rendering ---------------------------------------------------------------------------------

  setState(text, tone) {
    this.root.dataset.callTone = tone;
    this.ui.state.textContent = text;
  }

  showAlert(text) {
    this.ui.alert.textContent = text;
    this.ui.alert.hidden = false;
  }

  clearAlert() {
    this.ui.alert.textContent = "";
    this.ui.alert.hidden = true;
  }

  renderInCall() {
    this.ui.lobby.hidden = this.inCall;
    this.ui.live.hidden = !this.inCall;
  }

  renderMuted() {
    const { mute } = this.ui;
    mute.setAttribute("aria-pressed", String(this.muted));
    mute.textContent = this.muted ? gettext("Unmute") : gettext("Mute");
  }

  renderTranslation() {
    const problems = [...this.translationProblems.values()];
    const note = this.ui.translation;
    note.hidden = problems.length === 0;
    // Other statuses (the room's translation switched off, e.g. over quota) come with a sentence for people.
    const stopped = problems.find((p) => p.status !== "reconnecting" && p.status !== "error");
    if (stopped) {
      note.textContent = stopped.detail || gettext("Translation is unavailable.");
    } else {
      note.textContent = gettext("Translation reconnecting…");
    }
  }

  renderSpeaking() {
    const myId = this.hello?.participant.id;
    for (const id of this.roster.ids) {
      const speaking =
        id === myId
          ? this.inCall && !this.muted && this.meter.level > MY_SPEAKING_LEVEL
          : this.captions.heardWithin(id, SPEAKING_WINDOW_MS);
      this.roster.setSpeaking(id, speaking);
    }
  }
}
