import { describe, expect, it } from 'vitest';
import { href, parseRoute } from './router.ts';

describe('hash routes', () => {
  it('reads the task list, for everyone or one patient', () => {
    expect(parseRoute('#/tasks')).toEqual({ name: 'tasks', patientId: undefined });
    expect(parseRoute('#/patients/pat%201/tasks')).toEqual({ name: 'tasks', patientId: 'pat 1' });
  });

  it('reads a message inside its thread (a task links back to it)', () => {
    expect(parseRoute('#/patients/p1/messages/thr_1/msg_2')).toEqual({ name: 'messages', patientId: 'p1', threadId: 'thr_1', messageId: 'msg_2' });
    expect(parseRoute('#/messages/thr_1')).toEqual({ name: 'messages', patientId: undefined, threadId: 'thr_1' });
    expect(parseRoute('#/messages')).toEqual({ name: 'messages', patientId: undefined, threadId: undefined });
  });

  it('writes what it reads', () => {
    for (const h of ['#/schedule', '#/tasks', '#/patients/p%2F1/tasks', '#/patients/p1/messages/thr_1/msg_2', '#/messages/thr_1', '#/messages'])
      expect(href(parseRoute(h))).toBe(h);
  });

  it('signing in for a SMART app keeps only a relative /oauth/authorize return path (issue 10)', () => {
    const ret = '/oauth/authorize?response_type=code&client_id=c1&state=a%26b';
    const route = parseRoute(`#/sign-in?${new URLSearchParams({ return: ret })}`);
    expect(route).toEqual({ name: 'sign-in', returnTo: ret });
    expect(parseRoute(href(route))).toEqual(route);
    for (const evil of ['//evil.com', 'https://evil.com', '/\\evil.com', 'javascript:alert(1)', '/oauth/authorize/../../evil', '/oauth/token', ''])
      expect(parseRoute(`#/sign-in?${new URLSearchParams({ return: evil })}`), evil).toEqual({ name: 'sign-in', returnTo: null });
    expect(parseRoute('#/sign-in')).toEqual({ name: 'sign-in', returnTo: null });
  });

  it('a forgotten password keeps the SMART request, checked the same way (issue 10)', () => {
    const ret = '/oauth/authorize?response_type=code&client_id=c1';
    const route = parseRoute(`#/forgot-password?${new URLSearchParams({ return: ret })}`);
    expect(route).toEqual({ name: 'forgot-password', returnTo: ret });
    expect(parseRoute(href(route))).toEqual(route);
    expect(parseRoute(`#/forgot-password?${new URLSearchParams({ return: '//evil.com' })}`)).toEqual({ name: 'forgot-password', returnTo: null });
    expect(parseRoute('#/forgot-password')).toEqual({ name: 'forgot-password', returnTo: null });
    expect(href(parseRoute('#/forgot-password'))).toBe('#/forgot-password');
  });
});
