import { describe, expect, it } from 'vitest';
import { pushEndpointAllowed } from './preferences.ts';

describe('Web Push endpoint check', () => {
  it.each([
    'http://localhost.evil.example/push',
    'http://127.0.0.1.evil.example/x',
    'http://127.0.0.1@evil.example/x',
    'http://evil.example/x',
    'ftp://localhost/x',
    'javascript:alert(1)',
    'https://user:pw@push.example/x',
  ])('refuses %s', (u) => {
    expect(pushEndpointAllowed(u)).toBe(false);
  });
  it.each(['https://fcm.googleapis.com/fcm/send/abc', 'http://localhost:9999/push', 'http://127.0.0.1:8000/p', 'http://[::1]:8000/p'])('accepts %s', (u) => {
    expect(pushEndpointAllowed(u)).toBe(true);
  });
});
