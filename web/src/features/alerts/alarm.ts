/**
 * The critical-alert alarm: a short two-tone beep made with WebAudio (no audio file to download) and a
 * browser notification when the page is in the background and the user allowed them.
 */
let ctx: AudioContext | null = null;

const BEEP_HZ = [880, 660]; // two tones, high then low (IEC 60601-1-8 style, simplified)
const BEEP_S = 0.18; // each tone, seconds

export function beep(): void {
  try {
    ctx ??= new AudioContext();
    const t0 = ctx.currentTime;
    BEEP_HZ.forEach((hz, i) => {
      const osc = ctx!.createOscillator();
      const gain = ctx!.createGain();
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0.0001, t0 + i * BEEP_S);
      gain.gain.exponentialRampToValueAtTime(0.25, t0 + i * BEEP_S + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + (i + 1) * BEEP_S);
      osc.connect(gain).connect(ctx!.destination);
      osc.start(t0 + i * BEEP_S);
      osc.stop(t0 + (i + 1) * BEEP_S);
    });
  } catch {
    // Audio may be blocked until the user interacts with the page; the badge and notification remain.
  }
}

export function notify(title: string, body: string, tag: string): void {
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  try {
    new Notification(title, { body, tag, requireInteraction: true });
  } catch {
    // Some browsers only allow notifications from a service worker; the in-page alarm still sounds.
  }
}

export function askNotificationPermission(): void {
  if (typeof Notification !== 'undefined' && Notification.permission === 'default') void Notification.requestPermission();
}
