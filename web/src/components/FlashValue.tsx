import type { ReactNode } from 'react';
import { useRef } from 'react';

/** Renders children and briefly highlights them whenever `stamp` changes after the first render. */
export function FlashValue({ stamp, children, className = '' }: { stamp: string | number | undefined; children: ReactNode; className?: string }) {
  const first = useRef(stamp);
  const changed = stamp !== first.current;
  return (
    <span key={String(stamp)} className={`${className} ${changed ? 'flash' : ''}`}>
      {children}
    </span>
  );
}
