import { describe, expect, it } from 'vitest';
import { allowAllEvents, allowEvents } from './event-permissions.js';

describe('allowEvents', () => {
  describe('.allows', () => {
    it('allows only the listed action on matching systems', () => {
      const policy = allowEvents([{ action: 'events.send', system: 'orders' }]);
      expect(policy.allows('events.send', 'orders')).toBe(true);
      expect(policy.allows('events.subscribe', 'orders')).toBe(false);
      expect(policy.allows('events.send', 'payments')).toBe(false);
    });

    it('grants both actions with *', () => {
      const policy = allowEvents([{ action: '*', system: 'app.*' }]);
      expect(policy.allows('events.send', 'app.jobs')).toBe(true);
      expect(policy.allows('events.subscribe', 'app.jobs.eu')).toBe(true);
      expect(policy.allows('events.subscribe', 'app')).toBe(false);
    });

    it('allows a subscription pattern that a grant covers as written, and not a wider one', () => {
      const policy = allowEvents([{ action: 'events.subscribe', system: 'orders.*' }]);
      expect(policy.allows('events.subscribe', 'orders.*')).toBe(true);
      expect(policy.allows('events.subscribe', '**')).toBe(false);
    });

    it('denies everything without grants', () => {
      expect(allowEvents([]).allows('events.send', 'x')).toBe(false);
    });

    it('refuses a malformed grant pattern with INVALID', () => {
      expect(() => allowEvents([{ action: '*', system: '' }])).toThrow(expect.objectContaining({ code: 'INVALID' }));
    });
  });
});

describe('allowAllEvents', () => {
  describe('.allows', () => {
    it('allows everything', () => {
      expect(allowAllEvents.allows('events.subscribe', 'anything')).toBe(true);
    });
  });
});
