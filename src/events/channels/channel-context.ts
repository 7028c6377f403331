import type {
  ChannelContext,
  ChannelEmitOptions,
  ChannelMessage,
  Channels,
  ChannelSendOptions,
} from '../core/channels.js';

/**
 * @internal A follow-up event's groups and meta, and its lineage: the message it follows from is its
 * parent, in the same request, from the consumer group as caller.
 */
export interface FollowUpOptions {
  readonly groups?: string | readonly string[];
  readonly meta: Readonly<Record<string, unknown>>;
  readonly parentID: string;
  readonly requestID: string;
  readonly caller: string | undefined;
}

/** @internal Where a channel handler's follow-up events go: the bus's Moleculer calls. */
export interface ChannelEventPublisher {
  emit(name: string, payload: unknown, options: FollowUpOptions): void;
  broadcast(name: string, payload: unknown, options: FollowUpOptions): void;
  broadcastLocal(name: string, payload: unknown, options: FollowUpOptions): void;
}

/**
 * @internal An implementation of channels whose handlers get a full context once the bus has told it
 * where events go ({@link attachEvents}); before that, `emit` and friends refuse.
 */
export interface ContextHost {
  attachEvents(publisher: ChannelEventPublisher): void;
}

function followUp(message: ChannelMessage, options: ChannelEmitOptions | undefined): FollowUpOptions {
  // The trace goes on in the meta, where event handlers and channel sends read it.
  const trace =
    message.traceparent === undefined
      ? {}
      : message.tracestate === undefined
        ? { traceparent: message.traceparent }
        : { traceparent: message.traceparent, tracestate: message.tracestate };
  const meta = { ...trace, ...message.meta, ...options?.meta };
  const lineage = { meta, parentID: message.id, requestID: message.requestID, caller: message.group };
  return options?.groups === undefined ? lineage : { ...lineage, groups: options.groups };
}

/** @internal The context a channel handler receives for `message`. */
export function channelContext<T>(
  message: ChannelMessage,
  channels: Channels,
  events: () => ChannelEventPublisher | undefined,
): ChannelContext<T> {
  const publisher = (): ChannelEventPublisher => {
    const p = events();
    if (p === undefined) throw new Error('this channel context has no event bus to emit on');
    return p;
  };
  const ctx: ChannelContext<T> = {
    ...(message as ChannelMessage<T>),
    params: message.data as T,
    nodeID: message.source,
    emit: (name, payload, options) => publisher().emit(name, payload, followUp(message, options)),
    broadcast: (name, payload, options) => publisher().broadcast(name, payload, followUp(message, options)),
    broadcastLocal: (name, payload, options) => publisher().broadcastLocal(name, payload, followUp(message, options)),
    send: (channel: string, payload: unknown, options?: ChannelSendOptions) =>
      channels.send(channel, payload, { ...options, parentCtx: options?.parentCtx ?? ctx }),
  };
  return ctx;
}
