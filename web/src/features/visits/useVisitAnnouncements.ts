import { useEffect, useRef, useState } from 'react';
import type { Snapshot } from './visitCall.ts';

/**
 * What a screen reader should hear as a visit changes (WCAG 2.2 SC 4.1.3 Status Messages): entering the
 * waiting room and the visit, people joining and leaving, and for staff, someone waiting to be let in.
 * The text goes into a polite live region that stays in the page; `moved` tells the page to move focus to
 * its heading, since the control that was pressed (Join, Start visit) disappears with the change.
 */
export function useVisitAnnouncements(snap: Snapshot): { text: string; moved: number } {
  const [said, setSaid] = useState({ text: '', moved: 0 });
  const before = useRef<{ state: Snapshot['state']; peers: Map<string, string>; waiting: Set<string> } | null>(null);

  useEffect(() => {
    const peers = new Map(snap.peers.map((p) => [p.id, p.name]));
    const waiting = new Set(snap.waiting.map((w) => w.id));
    const prev = before.current;
    before.current = { state: snap.state, peers, waiting };
    if (!prev) return;
    const lines: string[] = [];
    let move = false;
    if (prev.state !== snap.state) {
      if (snap.state === 'waiting') lines.push('You are in the waiting room. Your care team will let you in.');
      if (snap.state === 'in-room') {
        const names = [...peers.values()];
        lines.push(names.length ? `You are in the visit with ${names.join(', ')}.` : 'You are in the visit. Nobody else is here yet.');
      }
      move = snap.state === 'waiting' || snap.state === 'in-room';
    } else if (snap.state === 'in-room') {
      for (const [id, name] of peers) if (!prev.peers.has(id)) lines.push(`${name} joined the visit.`);
      for (const [id, name] of prev.peers) if (!peers.has(id)) lines.push(`${name} left the visit.`);
    }
    if (snap.you?.kind === 'staff') for (const w of snap.waiting) if (!prev.waiting.has(w.id)) lines.push(`${w.name} is waiting to be let in.`);
    if (lines.length) setSaid((s) => ({ text: lines.join(' '), moved: s.moved + (move ? 1 : 0) }));
  }, [snap.state, snap.peers, snap.waiting, snap.you]);

  return said;
}
