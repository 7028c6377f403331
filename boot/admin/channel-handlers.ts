import type { Channels } from 'kindling/events';
import type { AdminHandlers } from './admin-server.js';

/**
 * The admin routes of durable channels (`kindling dead-letters`, `kindling redrive`) over the
 * channels `channels()` returns; it throws when there are none to reach, and the route answers that.
 * The admin socket of one app and the admin subjects of a cluster serve the same two.
 */
export function channelHandlers(channels: () => Channels): Required<Pick<AdminHandlers, 'deadLetters' | 'redrive'>> {
  return {
    deadLetters: async (request) => {
      const store = channels();
      const [counts, pending] = await Promise.all([store.deadLetterCounts(), store.pendingCounts()]);
      const letters = request.channel === undefined ? [] : await store.deadLetters(request.channel, request.max ?? 100);
      return { counts, pending, letters };
    },
    redrive: (request) => {
      const { channel, ids, olderThanMs, group } = request;
      return channels().redrive(channel, {
        ...(ids === undefined ? {} : { ids }),
        ...(olderThanMs === undefined ? {} : { olderThanMs }),
        ...(group === undefined ? {} : { group }),
      });
    },
  };
}
