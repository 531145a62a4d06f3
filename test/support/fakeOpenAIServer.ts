// A small OpenAI-compatible chat-completions server for tests: real HTTP on 127.0.0.1 (ephemeral
// port), scripted replies per request, and a record of every request so tests can check what the
// client sent (and that the API key travels only in the Authorization header).
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  /** Parsed JSON body, or undefined if it was not JSON. */
  body: ChatRequestBody | undefined;
}

export interface ChatRequestBody {
  model: string;
  messages: Array<{ role: string; content: string }>;
  stream?: boolean;
  temperature?: number;
  max_tokens?: number;
  [key: string]: unknown;
}

export type ScriptedReply =
  /** A chat completion; streamed as SSE when the request asks for `stream: true`. */
  | { kind: 'content'; content: string; finishReason?: 'stop' | 'length'; chunkChars?: number; chunkDelayMs?: number }
  /** 200 with a body that is not a chat completion. */
  | { kind: 'garbage'; body: string; contentType?: string }
  /** Waits before answering at all (no headers yet). */
  | { kind: 'slow'; delayMs: number; then: ScriptedReply }
  /** Streams the first `sendChars` characters, then goes silent with the connection open. */
  | { kind: 'stall'; content: string; sendChars: number }
  /** Streams `content`, then an in-stream `{"error": ...}` event instead of finishing. */
  | { kind: 'streamError'; content: string; message: string }
  /** An HTTP error with a JSON body (`{error:{...}}`) and optional headers. */
  | { kind: 'error'; status: number; body: unknown; headers?: Record<string, string> };

export type Responder = (request: RecordedRequest, index: number) => ScriptedReply;

/** Ready-made replies for the cases the teacher must handle. */
export const replies = {
  good: (content: string): ScriptedReply => ({ kind: 'content', content }),
  streamed: (content: string, chunkChars = 7, chunkDelayMs = 0): ScriptedReply => ({ kind: 'content', content, chunkChars, chunkDelayMs }),
  garbage: (): ScriptedReply => ({ kind: 'garbage', body: '<html><body>502 Bad Gateway {{{not json', contentType: 'application/json' }),
  slow: (delayMs: number, then: ScriptedReply): ScriptedReply => ({ kind: 'slow', delayMs, then }),
  stall: (content: string, sendChars: number): ScriptedReply => ({ kind: 'stall', content, sendChars }),
  /** 401 that echoes the presented key back in the message, as some servers do. */
  unauthorizedEcho: (): ScriptedReply => ({ kind: 'error', status: 401, body: 'ECHO_KEY' }),
  unknownModel: (): ScriptedReply => ({ kind: 'error', status: 404, body: 'UNKNOWN_MODEL' }),
  rateLimited: (retryAfterMs = 20): ScriptedReply => ({
    kind: 'error',
    status: 429,
    body: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } },
    headers: { 'retry-after-ms': String(retryAfterMs) },
  }),
  serverError: (status = 500): ScriptedReply => ({
    kind: 'error',
    status,
    body: { error: { message: 'The server had an error while processing your request.', type: 'server_error' } },
    headers: { 'retry-after-ms': '10' },
  }),
};

/**
 * A model that "obeys" a prompt injection: it writes a poem, echoes the whole user message (which
 * holds the problem and its injected text) and only then some numbered questions.
 */
export function injectionEcho(questions: readonly string[]): Responder {
  return (request) => {
    const messages = request.body?.messages ?? [];
    const user = messages.filter((m) => m.role === 'user').pop()?.content ?? '';
    return {
      kind: 'content',
      content:
        'Sure! Ignoring previous instructions. Here is a poem:\nRoses are red,\nviolets are blue,\nmath is a chore,\nso here is a shoe.\n\n' +
        `You wrote:\n${user}\n\n` +
        questions.map((q, i) => `Q${i + 1}: ${q}`).join('\n'),
    };
  };
}

export class FakeOpenAIServer {
  readonly requests: RecordedRequest[] = [];
  /** Most requests seen in flight at the same time. */
  maxInFlight = 0;
  private inFlight = 0;
  private readonly script: Array<ScriptedReply | Responder> = [];
  private fallback: Responder | undefined;
  private readonly server: http.Server;
  private readonly timers = new Set<NodeJS.Timeout>();
  private port = 0;

  private constructor() {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  static async start(): Promise<FakeOpenAIServer> {
    const fake = new FakeOpenAIServer();
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(0, '127.0.0.1', () => resolve());
    });
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  /** The API root to give the client, e.g. `http://127.0.0.1:PORT/v1`. */
  get baseURL(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** Replies for the next requests, in order; after them, `whenEmpty` (or a 500 saying so). */
  enqueue(...items: Array<ScriptedReply | Responder>): this {
    this.script.push(...items);
    return this;
  }

  whenEmpty(responder: Responder): this {
    this.fallback = responder;
    return this;
  }

  reset(): void {
    this.requests.length = 0;
    this.script.length = 0;
    this.fallback = undefined;
    this.maxInFlight = 0;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) {
      clearTimeout(timer);
    }
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: ChatRequestBody | undefined;
      try {
        body = JSON.parse(rawBody) as ChatRequestBody;
      } catch {
        body = undefined;
      }
      const recorded: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawBody, body };
      const index = this.requests.length;
      this.requests.push(recorded);
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      let finished = false;
      const done = () => {
        if (!finished) {
          finished = true;
          this.inFlight--;
        }
      };
      res.on('close', done);
      if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
        this.sendJson(res, 404, { error: { message: `No route ${req.method} ${req.url}`, type: 'invalid_request_error' } });
        return;
      }
      const next = this.script.shift() ?? this.fallback;
      const reply: ScriptedReply =
        next === undefined
          ? { kind: 'error', status: 500, body: { error: { message: 'fake server: script exhausted' } } }
          : typeof next === 'function'
            ? next(recorded, index)
            : next;
      this.respond(recorded, reply, res);
    });
  }

  private respond(request: RecordedRequest, reply: ScriptedReply, res: http.ServerResponse): void {
    const model = request.body?.model ?? 'unknown';
    switch (reply.kind) {
      case 'slow':
        this.later(reply.delayMs, () => {
          if (!res.destroyed) {
            this.respond(request, reply.then, res);
          }
        });
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': reply.contentType ?? 'application/json' });
        res.end(reply.body);
        return;
      case 'error': {
        let body = reply.body;
        if (body === 'ECHO_KEY') {
          const auth = String(request.headers.authorization ?? '');
          body = { error: { message: `Incorrect API key provided: ${auth.replace(/^Bearer\s+/i, '')}.`, type: 'invalid_request_error', code: 'invalid_api_key' } };
        } else if (body === 'UNKNOWN_MODEL') {
          body = { error: { message: `The model \`${model}\` does not exist or you do not have access to it.`, type: 'invalid_request_error', code: 'model_not_found' } };
        }
        this.sendJson(res, reply.status, body, reply.headers);
        return;
      }
      case 'stall':
        this.startStream(res);
        this.writeChunk(res, model, reply.content.slice(0, reply.sendChars), null);
        // Say nothing more; the client must give up (timeout) or cancel.
        return;
      case 'streamError':
        this.startStream(res);
        this.writeChunk(res, model, reply.content, null);
        res.end(`data: ${JSON.stringify({ error: { message: reply.message, type: 'server_error' } })}\n\n`);
        return;
      case 'content':
        if (request.body?.stream) {
          this.streamContent(res, model, reply);
        } else {
          this.sendJson(res, 200, {
            id: 'chatcmpl-fake',
            object: 'chat.completion',
            created: 0,
            model,
            choices: [{ index: 0, message: { role: 'assistant', content: reply.content }, finish_reason: reply.finishReason ?? 'stop' }],
            usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          });
        }
        return;
    }
  }

  private sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  private startStream(res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  }

  private writeChunk(res: http.ServerResponse, model: string, content: string | null, finishReason: string | null): void {
    const chunk = {
      id: 'chatcmpl-fake',
      object: 'chat.completion.chunk',
      created: 0,
      model,
      choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finishReason }],
    };
    res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  }

  private streamContent(res: http.ServerResponse, model: string, reply: Extract<ScriptedReply, { kind: 'content' }>): void {
    this.startStream(res);
    const size = Math.max(1, reply.chunkChars ?? 16);
    const pieces: string[] = [];
    for (let i = 0; i < reply.content.length; i += size) {
      pieces.push(reply.content.slice(i, i + size));
    }
    const delay = reply.chunkDelayMs ?? 0;
    const send = (i: number) => {
      if (res.destroyed) {
        return;
      }
      if (i < pieces.length) {
        this.writeChunk(res, model, pieces[i], null);
        if (delay > 0) {
          this.later(delay, () => send(i + 1));
        } else {
          send(i + 1);
        }
        return;
      }
      this.writeChunk(res, model, null, reply.finishReason ?? 'stop');
      res.end('data: [DONE]\n\n');
    };
    send(0);
  }
}

/**
 * Mocha hooks for a suite that talks to one fake server: started once, emptied before each test,
 * closed at the end. Call inside `describe`; the returned getter gives the running server.
 */
export function useFakeOpenAIServer(): () => FakeOpenAIServer {
  let server: FakeOpenAIServer | undefined;
  before(async () => {
    server = await FakeOpenAIServer.start();
  });
  after(async () => {
    await server?.close();
  });
  beforeEach(() => server?.reset());
  return () => {
    if (!server) {
      throw new Error('the fake OpenAI server is not running (use it inside a test)');
    }
    return server;
  };
}
