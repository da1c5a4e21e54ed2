// @ts-check
/**
 * Camera and microphone. Never fails: a device without camera or microphone, or whose user
 * refuses permission, gets what is available — down to nothing (receive-only).
 */

/**
 * @typedef {{stream: MediaStream, audio: boolean, video: boolean, problem: string|null}} LocalMedia
 */

/**
 * @param {{audio: boolean, video: boolean}} want
 * @returns {Promise<LocalMedia>}
 */
export async function getLocalMedia(want) {
  /** @type {{audio: boolean, video: boolean}[]} */
  const attempts = [];
  if (want.audio && want.video) attempts.push({ audio: true, video: true });
  if (want.audio) attempts.push({ audio: true, video: false });
  if (want.video) attempts.push({ audio: false, video: true });
  let problem = null;
  for (const c of attempts) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: c.audio ? { echoCancellation: true, noiseSuppression: true } : false,
        video: c.video ? { width: { ideal: 1280 }, height: { ideal: 720 } } : false,
      });
      const got = { audio: stream.getAudioTracks().length > 0, video: stream.getVideoTracks().length > 0 };
      if (got.audio !== want.audio || got.video !== want.video) problem = describeMissing(want, got);
      return { stream, ...got, problem };
    } catch (e) {
      problem = explain(e);
    }
  }
  return { stream: new MediaStream(), audio: false, video: false, problem: problem || 'no camera or microphone' };
}

/** @param {any} e */
function explain(e) {
  switch (e?.name) {
    case 'NotAllowedError': return 'camera/microphone permission refused — you can still hear and see the other side';
    case 'NotFoundError': return 'no camera or microphone found — you can still hear and see the other side';
    case 'NotReadableError': return 'camera or microphone is in use by another program';
    default: return `media unavailable (${e?.name || e})`;
  }
}

/**
 * @param {{audio: boolean, video: boolean}} want
 * @param {{audio: boolean, video: boolean}} got
 */
function describeMissing(want, got) {
  if (want.video && !got.video) return 'camera unavailable — sending audio only';
  if (want.audio && !got.audio) return 'microphone unavailable — sending video only';
  return null;
}

/** Stops every track (the camera light goes off). @param {MediaStream|null|undefined} stream */
export function stopAll(stream) {
  stream?.getTracks().forEach((t) => t.stop());
}

/** Cameras, microphones and speakers; none if the browser will not tell. */
export async function listDevices() {
  try {
    return await navigator.mediaDevices.enumerateDevices();
  } catch {
    return [];
  }
}
