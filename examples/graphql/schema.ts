/**
 * The GraphQL schema the example serves, built with `graphql` itself: a
 * tiny chat with a query, a mutation that posts a message, and two
 * subscriptions — `messages` (every message posted from now on) and
 * `countdown(from)` (a finite stream that completes).
 *
 * Subscriptions need an async iterable per subscriber; {@linkcode PubSub}
 * is a minimal in-memory one whose iterators unsubscribe when the
 * subscription ends (`return()`), so nothing leaks when a client leaves.
 *
 * @module
 */

import {
  GraphQLID,
  GraphQLInt,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
} from "graphql";

/** A chat message. */
export interface Message {
  /** A server-assigned id. */
  id: string;
  /** What was said. */
  text: string;
  /** Who said it (the authenticated user). */
  author: string;
}

/** What every resolver sees as `context`. */
export interface ChatContext {
  /** The user that `connection_init` authenticated. */
  user: string;
  /** Where posted messages go. */
  pubsub: PubSub<Message>;
}

/**
 * A minimal in-memory publish/subscribe hub: each `subscribe()` returns an
 * async iterator of everything published afterwards.
 */
export class PubSub<T> {
  readonly #subscribers = new Set<(value: T) => void>();

  /** How many subscriptions are live. */
  get size(): number {
    return this.#subscribers.size;
  }

  /** Delivers `value` to every live subscription. */
  publish(value: T): void {
    for (const deliver of this.#subscribers) deliver(value);
  }

  /** An iterator of values published from now on, until `return()`. */
  subscribe(): AsyncIterableIterator<T> {
    const queue: T[] = [];
    let wake: ((result: IteratorResult<T>) => void) | undefined;
    let done = false;
    const deliver = (value: T) => {
      if (wake === undefined) {
        queue.push(value);
      } else {
        const resolve = wake;
        wake = undefined;
        resolve({ value, done: false });
      }
    };
    this.#subscribers.add(deliver);
    const finish = (): Promise<IteratorResult<T>> => {
      done = true;
      this.#subscribers.delete(deliver);
      queue.length = 0;
      wake?.({ value: undefined, done: true });
      wake = undefined;
      return Promise.resolve({ value: undefined, done: true });
    };
    const iterator: AsyncIterableIterator<T> = {
      next(): Promise<IteratorResult<T>> {
        if (queue.length > 0) {
          return Promise.resolve({ value: queue.shift() as T, done: false });
        }
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (wake = resolve));
      },
      return: finish,
      throw(error?: unknown): Promise<IteratorResult<T>> {
        finish();
        return Promise.reject(error);
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}

const MessageType = new GraphQLObjectType<Message, ChatContext>({
  name: "Message",
  fields: {
    id: { type: new GraphQLNonNull(GraphQLID) },
    text: { type: new GraphQLNonNull(GraphQLString) },
    author: { type: new GraphQLNonNull(GraphQLString) },
  },
});

let nextId = 1;

/** The example's schema: `hello`, `whoami`, `post`, `messages`, `countdown`. */
export const schema: GraphQLSchema = new GraphQLSchema({
  query: new GraphQLObjectType<unknown, ChatContext>({
    name: "Query",
    fields: {
      hello: {
        type: new GraphQLNonNull(GraphQLString),
        resolve: () => "world",
      },
      whoami: {
        type: new GraphQLNonNull(GraphQLString),
        resolve: (_root, _args, context) => context.user,
      },
    },
  }),
  mutation: new GraphQLObjectType<unknown, ChatContext>({
    name: "Mutation",
    fields: {
      post: {
        type: new GraphQLNonNull(MessageType),
        args: { text: { type: new GraphQLNonNull(GraphQLString) } },
        resolve: (_root, args: { text: string }, context): Message => {
          const message = {
            id: String(nextId++),
            text: args.text,
            author: context.user,
          };
          context.pubsub.publish(message);
          return message;
        },
      },
    },
  }),
  subscription: new GraphQLObjectType<unknown, ChatContext>({
    name: "Subscription",
    fields: {
      messages: {
        type: new GraphQLNonNull(MessageType),
        subscribe: (_root, _args, context) => context.pubsub.subscribe(),
        // Each published value is the field's value.
        resolve: (message) => message,
      },
      countdown: {
        type: new GraphQLNonNull(GraphQLInt),
        args: { from: { type: new GraphQLNonNull(GraphQLInt) } },
        subscribe: async function* (_root, args: { from: number }) {
          for (let i = args.from; i >= 0; i--) yield i;
        },
        resolve: (value) => value,
      },
    },
  }),
});
