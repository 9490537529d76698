// The browser's side of the WebRTC call: one audio transceiver, a complete offer, the remote mix.

// Longest wait for ICE gathering: on some networks one candidate type never finishes, and the
// host candidates gathered by then are enough to reach the media worker.
const GATHERING_TIMEOUT_MS = 3000;

/** A new peer connection sending `track` of `stream`; `onTrack` gets the stream to play. */
export function createPeer({ iceServers, track, stream, onTrack, onStateChange }) {
  const pc = new RTCPeerConnection({ iceServers });
  const sender = pc.addTrack(track, stream);
  pc.addEventListener("track", (event) => onTrack(event.streams[0] || new MediaStream([event.track])));
  pc.addEventListener("connectionstatechange", () => onStateChange(pc.connectionState));
  return { pc, sender };
}

/** Creates the offer and returns its SDP with the ICE candidates gathered (within a timeout). */
export async function gatheredOffer(pc) {
  await pc.setLocalDescription(await pc.createOffer());
  if (pc.iceGatheringState !== "complete") {
    await new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      };
      const check = () => {
        if (pc.iceGatheringState === "complete") done();
      };
      const timer = setTimeout(done, GATHERING_TIMEOUT_MS);
      pc.addEventListener("icegatheringstatechange", check);
    });
  }
  return pc.localDescription.sdp;
}
