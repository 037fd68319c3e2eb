import { createContext, useContext } from 'react';
import type { Me } from '@contracts';

export interface Session {
  me: Me;
  logout: () => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in session');
  return s;
}
